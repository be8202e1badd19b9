"""A real Prometheus (Debian's binary) scrapes the real web process and the real worker
while the test drives traffic; then every expression of the dashboards and the alert
rules must answer with data."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.mmap_dict import MmapedDict

from tests.campaigns.factories import CampaignFactory
from tests.conftest import RUN_DIR, _free_port
from tests.factories import PASSWORD, OfferFactory, customer
from tests.helpers import wait_until_terminal
from tests.monitoring.expressions import PROMETHEUS_DIR, all_expressions

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SCRAPE_SECONDS = 1


class LivePrometheus:
    def __init__(self, web, worker):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = RUN_DIR / f"prometheus-{self.port}"
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(PROMETHEUS_DIR / "alerts.yml", self.dir / "alerts.yml")
        config = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [
                {"job_name": "web", "metrics_path": "/metrics",
                 "static_configs": [{"targets": [web.url.removeprefix("http://")]}]},
                {"job_name": "worker", "static_configs": [{"targets": [f"127.0.0.1:{worker.metrics_port}"]}]},
            ],
        }
        self.config_path = self.dir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = self.dir / "prometheus.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus not ready")

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, expr: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def targets_up(self) -> dict[str, str]:
        active = requests.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return {target["labels"]["job"]: target["health"] for target in active}


@pytest.fixture(scope="module")
def prometheus(live_web, live_worker):
    server = LivePrometheus(live_web, live_worker)
    server.start()
    yield server
    server.stop()


def wait_for(condition, *, timeout: float = 90, interval: float = 0.5, message: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError((message() if callable(message) else message) or "condition not met")
        time.sleep(interval)


def login(base_url: str, username: str) -> dict:
    response = requests.post(f"{base_url}/api/v1/auth/login/", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def test_every_dashboard_and_alert_expression_answers_from_a_live_prometheus(live_stack, prometheus):
    # given: a customer who can pay once, one who cannot, and a discount campaign
    web, worker = live_stack
    customer(username="metrics-rich", balance="100.00")
    customer(username="metrics-poor", balance="0")
    offer = OfferFactory(price=Decimal("30.00"))
    campaign = CampaignFactory(total_budget=Decimal("500.00"))
    rich, poor = login(web.url, "metrics-rich"), login(web.url, "metrics-poor")
    wait_for(lambda: prometheus.targets_up() == {"web": "up", "worker": "up"}, timeout=60,
             message=f"targets not up: {prometheus.targets_up()}")

    # (settle-task runs: at least one; messages coalesce, so three settlements may take one run)
    counted = {'sum(offers_transactions_finished_total{status="FAILED"})': 1,
               "sum(offers_transactions_accepted_total)": 3, "sum(offers_idempotency_replays_total)": 1,
               'sum(offers_celery_task_runs_total{task="activation.tasks.transaction_settle_task"})': 1}
    before = {expr: prometheus.value(expr) or 0 for expr in counted}  # the live processes serve the whole session

    # when: an activation, a replay of it, a failing activation, a redemption and a 404
    key = str(uuid.uuid4())
    ok = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id},
                       headers={**rich, "Idempotency-Key": key})
    replay = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id},
                           headers={**rich, "Idempotency-Key": key})
    failing = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=poor)
    redemption = requests.post(f"{web.url}/api/v1/discounts/redeem/", headers=rich,
                               json={"campaign_id": campaign.id, "cart_value": "80.00", "delivery_charge": "5.00",
                                     "order_reference": "order-1"})
    missing = requests.get(f"{web.url}/api/v1/offers/999999/", headers=rich)
    assert [r.status_code for r in (ok, replay, failing, redemption, missing)] == [202, 202, 202, 202, 404]
    txns = wait_until_terminal([r.json()["transaction_id"] for r in (ok, failing, redemption)])
    assert sorted(t.status for t in txns) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]

    # then: Prometheus has scraped it all, and every expression answers with a series
    wait_for(lambda: all((prometheus.value(expr) or 0) >= before[expr] + delta for expr, delta in counted.items()),
             timeout=60, message=lambda: f"the traffic never showed up in Prometheus: {before} -> "
                                         f"{ {expr: prometheus.value(expr) for expr in counted} }")
    expressions = all_expressions()
    assert len(expressions) >= 30

    def empty() -> list[str]:
        return [f"{where}: {expr}" for where, expr in expressions if not prometheus.query(expr)]

    missing_series: list[str] = []

    def all_answer() -> bool:
        missing_series[:] = empty()
        return not missing_series

    wait_for(all_answer, timeout=60, interval=1,
             message=lambda: "expressions without a series:\n" + "\n".join(missing_series)
             + f"\nworker log:\n{worker.log_tail(30)}\nworker metrics:\n" + requests.get(
                 f"http://127.0.0.1:{worker.metrics_port}/metrics").text[-3000:])
    # each from a scrape after the settlement: the scrape that showed the counters above may
    # predate the redemption's commit
    expected = {'max(offers_campaign_budget_remaining{campaign_id="%d"})' % campaign.id: lambda v: v == 490.0,
                'max(offers_workers_alive{queue="settlement"})': lambda v: v >= 1}
    for expr, holds in expected.items():
        wait_for(lambda: (value := prometheus.value(expr)) is not None and holds(value), timeout=60,
                 message=lambda: f"{expr} = {prometheus.value(expr)}")


def test_the_backlog_rises_while_settlement_is_stopped_and_falls_when_it_is_back(live_stack, prometheus):
    # given
    web, worker = live_stack
    customer(username="metrics-backlog", balance="1000.00")
    offer = OfferFactory(price=Decimal("1.00"))
    headers = login(web.url, "metrics-backlog")
    backlog = 'max(offers_transactions_unfinished{status="PENDING"})'
    depth = 'max(offers_queue_depth{queue="settlement"})'
    wait_for(lambda: prometheus.value(backlog) == 0, timeout=60, message="settlement backlog not empty at start")

    # when: settlement stops consuming and traffic continues
    worker.settlement_pause()
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            responses = list(pool.map(lambda _: requests.post(f"{web.url}/api/v1/activation/",
                                                              json={"offer_id": offer.id}, headers=headers), range(20)))
        assert {r.status_code for r in responses} == {202}

        # then: the backlog shows up in Prometheus, and so does the oldest pending age; the
        # settlement queue itself holds a message or two, not twenty (messages coalesce)
        wait_for(lambda: (prometheus.value(backlog) or 0) >= 15, timeout=60,
                 message=f"backlog never rose: {prometheus.value(backlog)}")
        assert (prometheus.value(depth) or 0) <= 5
        wait_for(lambda: (prometheus.value("max(offers_oldest_pending_transaction_age_seconds)") or 0) > 0,
                 timeout=30, message="oldest pending age never rose")
    finally:
        worker.settlement_resume()

    # and when settlement is back, it drains
    wait_until_terminal([r.json()["transaction_id"] for r in responses], timeout=120)
    wait_for(lambda: prometheus.value(backlog) == 0 and prometheus.value(depth) == 0, timeout=60,
             message=f"backlog never fell: {prometheus.value(backlog)}, queue {prometheus.value(depth)}")
    wait_for(lambda: prometheus.value("max(offers_oldest_pending_transaction_age_seconds)") == 0, timeout=30,
             message="oldest pending age never fell")


def _health_requests_per_process(metrics_dir: Path) -> dict[str, float]:
    served = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, *_ = json.loads(key)
            if sample == "django_http_requests_total_by_view_transport_method_total" and labels["view"] == "health":
                served[path.name] = served.get(path.name, 0) + value
    return served


def _health_requests_exported(web) -> float:
    for line in requests.get(f"{web.url}/metrics", timeout=10).text.splitlines():
        if line.startswith("django_http_requests_total_by_view_transport_method_total{") and 'view="health"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_of_several_web_processes_are_summed_not_overwritten(live_web):
    # given
    before = _health_requests_exported(live_web)

    # when: enough parallel requests that both web processes serve some
    sent = 0
    for _ in range(10):
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: requests.get(f"{live_web.url}/health/", timeout=10).status_code,
                                     range(40)))
        assert statuses == [200] * 40
        sent += 40
        if len([v for v in _health_requests_per_process(live_web.metrics_dir).values() if v]) >= 2:
            break

    # then: two processes served, and /metrics reports their sum
    per_process = _health_requests_per_process(live_web.metrics_dir)
    assert len([v for v in per_process.values() if v]) >= 2, per_process
    after = _health_requests_exported(live_web)
    assert after - before == sent
    assert after == sum(per_process.values())


def _process_tree(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # the field after the parenthesised command name is the state, then the ppid
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return tree


def test_cpu_and_memory_of_every_web_and_worker_process_reach_prometheus(live_web, live_worker, prometheus):
    # given: gunicorn's master and its uvicorn workers; the Celery worker's main process and its
    # prefork children
    trees = {"web": _process_tree(live_web.popen.pid), "worker": _process_tree(live_worker.popen.pid)}
    assert len(trees["web"]) >= 3 and len(trees["worker"]) >= 3, trees

    def scraped(metric: str) -> dict[str, set[int]]:
        return {job: {int(series["metric"]["pid"]) for series in prometheus.query(f'{metric}{{job="{job}"}}')}
                for job in trees}

    # then: one series per process of each, and nothing else
    for metric in ("process_resident_memory_bytes", "process_cpu_seconds_total"):
        wait_for(lambda: scraped(metric) == trees, timeout=30,
                 message=lambda: f"{metric}: scraped {scraped(metric)}, processes {trees}")
    for job in trees:
        assert prometheus.value(f'sum(process_resident_memory_bytes{{job="{job}"}})') > 20e6, job
        assert prometheus.value(f'sum(process_cpu_seconds_total{{job="{job}"}})') > 0, job
    wait_for(lambda: prometheus.query('sum by (job) (rate(process_cpu_seconds_total[5m]))'), timeout=30,
             message="no CPU rate yet")


def test_a_run_of_a_task_beat_schedules_stamps_the_beat_heartbeat(live_stack, prometheus):
    # given
    from kernel.tasks import task_publish

    stamp = 'max(offers_periodic_task_last_run_timestamp_seconds{task="activation.tasks.transactions_sweep_task"})'
    heartbeat = next(expr for where, expr in all_expressions() if where.startswith("queue-health.json: Beat heartbeat"))
    sent_at = time.time()

    # when: the transaction sweep, as beat sends it
    assert task_publish("activation.tasks.transactions_sweep_task")

    # then: the worker stamps its run, Prometheus scrapes it, the dashboard reads seconds, not "never"
    wait_for(lambda: (prometheus.value(stamp) or 0) >= sent_at, timeout=60,
             message=lambda: f"{stamp} = {prometheus.value(stamp)}, sent at {sent_at}")
    assert 0 <= prometheus.value(heartbeat) < 60
    # and a task beat does not schedule leaves no stamp
    assert prometheus.query('offers_periodic_task_last_run_timestamp_seconds'
                            '{task="activation.tasks.transaction_settle_task"}') == []


def test_http_panels_show_the_api_without_prometheus_scrapes_probes_or_the_admin(live_web, prometheus):
    # given: Prometheus requests /metrics every second; a probe, an admin page and an API call
    for path in ("/health/", "/ready/", "/admin/login/", "/api/v1/offers/"):
        requests.get(f"{live_web.url}{path}", timeout=10)
    seen = 'django_http_requests_total_by_view_transport_method_total{view=~"prometheus-django-metrics|health|admin:login"}'
    wait_for(lambda: len(prometheus.query(f"sum by (view) ({seen})")) == 3, timeout=60,
             message=lambda: f"not scraped yet: {prometheus.query(f'sum by (view) ({seen})')}")
    panel = dict(all_expressions())["business-flow.json: HTTP requests by endpoint [A]"]

    # then
    views = {series["metric"]["view"] for series in prometheus.query(panel)}
    wait_for(lambda: "offer-list" in {series["metric"]["view"] for series in prometheus.query(panel)}, timeout=60,
             message=lambda: f"the API call is missing: {views}")
    views = {series["metric"]["view"] for series in prometheus.query(panel)}
    assert not {view for view in views if view in {"prometheus-django-metrics", "health", "ready"}
                or view.startswith("admin:")}, views
