"""`make monitoring` (scripts/monitoring.sh): Debian's Prometheus and Alertmanager against the
processes of a `make run` stack, here the test's own web process and worker."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import ROOT, _free_port
from tests.monitoring.expressions import dashboards, panels

pytestmark = [pytest.mark.e2e]


def test_make_monitoring_scrapes_the_stack_sends_alerts_to_alertmanager_and_lists_every_panel(
        live_web, live_worker, tmp_path):
    # given
    prometheus_port, alertmanager_port = _free_port(), _free_port()
    env = {**os.environ, "PORT": str(live_web.port), "WORKER_METRICS_PORTS": str(live_worker.metrics_port),
           "PROMETHEUS_PORT": str(prometheus_port), "ALERTMANAGER_PORT": str(alertmanager_port),
           "MONITORING_DIR": str(tmp_path), "SCRAPE_INTERVAL": "1s"}
    prometheus = f"http://127.0.0.1:{prometheus_port}"

    # when
    script = subprocess.Popen([str(ROOT / "scripts" / "monitoring.sh")], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        targets: dict = {}
        while time.monotonic() < deadline:
            assert script.poll() is None, script.stdout.read()
            try:
                active = requests.get(f"{prometheus}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
                targets = {target["scrapeUrl"]: target["health"] for target in active}
                if targets and set(targets.values()) == {"up"}:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)

        # then: both jobs scraped, on the loopback
        assert targets == {f"{live_web.url}/metrics": "up",
                           f"http://127.0.0.1:{live_worker.metrics_port}/metrics": "up"}, targets
        # and Prometheus sends its alerts to the Alertmanager the script started, with our rules
        alertmanagers = requests.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()["data"]
        assert alertmanagers["activeAlertmanagers"] == [
            {"url": f"http://127.0.0.1:{alertmanager_port}/api/v2/alerts"}]
        assert requests.get(f"http://127.0.0.1:{alertmanager_port}/-/ready", timeout=5).status_code == 200
        groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert {rule["name"] for group in groups for rule in group["rules"]} >= {"BeatHeartbeatStale",
                                                                               "WorkerTargetDown"}
        # and every panel of every dashboard is listed with a link to its queries
        index = (tmp_path / "dashboards.html").read_text()
        for dashboard in dashboards().values():
            for panel in panels(dashboard):
                assert f">{panel['title']}</a>" in index.replace("&gt;", ">").replace("&#x27;", "'"), panel["title"]
        assert index.count(f"{prometheus}/graph?g0.expr=") == sum(len(panels(d)) for d in dashboards().values())
    finally:
        os.killpg(script.pid, signal.SIGTERM)
        script.wait(30)

    # and Ctrl-C (here SIGTERM) stops both servers
    with pytest.raises(requests.RequestException):
        requests.get(f"{prometheus}/-/ready", timeout=2)
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{alertmanager_port}/-/ready", timeout=2)
