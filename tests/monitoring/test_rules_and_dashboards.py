"""Static checks of what Prometheus and Grafana load: promtool on the config and the
rules, the alert unit tests, and the shape of the provisioned dashboards."""
import shutil
import subprocess

import pytest
import yaml

from tests.monitoring.expressions import (DASHBOARDS_DIR, PROMETHEUS_DIR, ROOT, alert_rules, comparisons_as_bool,
                                          dashboard_expressions, dashboards)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=PROMETHEUS_DIR, timeout=120)


def test_promtool_check_config_accepts_prometheus_yml_and_its_rules():
    # when
    result = promtool("check", "config", "prometheus.yml")

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_check_rules_accepts_every_alert():
    # when
    result = promtool("check", "rules", "alerts.yml")

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_alert_unit_tests_pass():
    # when
    result = promtool("test", "rules", "alerts.test.yml")

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_quiet():
    # given
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]

    # then
    for rule in alert_rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} is never shown to fire"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']} is never shown to stay quiet"


def test_every_alert_has_a_summary_a_runbook_and_a_severity():
    for rule in alert_rules():
        assert rule["annotations"].get("summary"), rule["alert"]
        assert rule["annotations"].get("runbook"), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]


@pytest.mark.parametrize("name", ["queue-health.json", "business-flow.json"])
def test_dashboards_have_panels_with_prometheus_targets(name):
    # given
    dashboard = dashboards()[name]

    # then
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus" and target["expr"].strip(), panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])


def test_grafana_provisioning_points_at_the_dashboards_and_the_prometheus_datasource():
    # given
    provisioning = ROOT / "monitoring" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    providers = yaml.safe_load((provisioning / "dashboards" / "provider.yml").read_text())["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    # then
    assert [(d["uid"], d["type"]) for d in datasources] == [("prometheus", "prometheus")]
    dashboards_path = providers[0]["options"]["path"]
    grafana_volumes = compose["services"]["grafana"]["volumes"]
    assert f"./monitoring/grafana/dashboards:{dashboards_path}:ro" in grafana_volumes
    assert {p.name for p in DASHBOARDS_DIR.glob("*.json")} == {"queue-health.json", "business-flow.json"}


def test_every_dashboard_expression_is_valid_promql():
    # given: promtool parses the expressions as recording rules
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(dashboard_expressions())]}]}
    path = ROOT / ".run" / "dashboard-expressions.rules.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(rules))

    # when
    result = promtool("check", "rules", str(path))

    # then
    assert result.returncode == 0, result.stdout + result.stderr


def test_comparisons_become_bool_outside_label_matchers_only():
    assert comparisons_as_bool('a{x!="y"} > 0.5 and b{z=~"q"} <= 3') == 'a{x!="y"} > bool 0.5 and b{z=~"q"} <= bool 3'
