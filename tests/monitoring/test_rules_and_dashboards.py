"""Static checks of what Prometheus, Alertmanager and Grafana load: promtool on the config
and the rules, the alert unit tests, amtool on the Alertmanager config, and what the
provisioned dashboards show (thresholds, value mappings, units, variables, descriptions)."""
import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.monitoring.expressions import (DASHBOARDS_DIR, PROMETHEUS_DIR, ROOT, alert_rules, comparisons_as_bool,
                                          dashboard_expressions, dashboards, panels)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
ALERTMANAGER_CONFIG = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


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


def test_every_alert_has_a_summary_a_runbook_section_a_dashboard_and_a_severity():
    # given: the runbook's section anchors, as GitHub makes them from "## Name" headings
    anchors = {re.sub(r"[^a-z0-9-]", "", line[3:].strip().lower().replace(" ", "-"))
               for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    dashboard_uids = {dashboard["uid"] for dashboard in dashboards().values()}

    # then
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]
        path, _, anchor = annotations["runbook"].partition("#")
        assert path == "docs/RUNBOOK.md" and anchor in anchors, (rule["alert"], annotations["runbook"])
        dashboard = re.fullmatch(r"http://127\.0\.0\.1:3000/d/([a-z-]+)/\1(\?.*)?", annotations["dashboard_url"])
        assert dashboard and dashboard.group(1) in dashboard_uids, (rule["alert"], annotations["dashboard_url"])
        assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]


def test_every_ratio_alert_has_a_volume_floor():
    # given: a ratio is a division of two rates
    ratios = [rule for rule in alert_rules() if re.search(r"\)\s*/\s*sum", rule["expr"])]

    # then: it also asks for a minimum number of events in its window
    assert {rule["alert"] for rule in ratios} >= {"TransactionFailureRatioHigh", "TaskFailureRatioHigh",
                                                  "CallbacksFailing", "HttpServerErrorRatioHigh"}
    for rule in ratios + [rule for rule in alert_rules() if "histogram_quantile" in rule["expr"]]:
        assert re.search(r" and sum(?: by \([a-z, ]+\))? ?\(increase\([^)]*\)\) >= \d+", rule["expr"]), rule["alert"]


def test_alertmanager_config_passes_amtool_and_prometheus_sends_alerts_to_it():
    # when
    result = subprocess.run([AMTOOL, "check-config", str(ALERTMANAGER_CONFIG)], capture_output=True, text=True,
                            timeout=60)

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    for path in (PROMETHEUS_DIR / "prometheus.yml", ROOT / "docker" / "prometheus.production.yml"):
        alerting = yaml.safe_load(path.read_text())["alerting"]["alertmanagers"]
        assert alerting == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}], path


def test_alertmanager_routes_every_severity_and_inhibits_only_alerts_that_exist():
    # given
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    alerts = {rule["alert"] for rule in alert_rules()}
    receivers = {receiver["name"] for receiver in config["receivers"]}

    # then: each severity the rules use has a route of its own to a receiver
    routed = {re.fullmatch(r'severity="(\w+)"', matcher).group(1): route["receiver"]
              for route in config["route"]["routes"] for matcher in route["matchers"]}
    for severity in {rule["labels"]["severity"] for rule in alert_rules()}:
        assert routed.get(severity, config["route"]["receiver"]) in receivers, severity
    # and every alert an inhibition names is one of ours (a renamed alert would silently escape it)
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            names = re.fullmatch(r'alertname=~?"([^"]+)"', matcher).group(1).split("|")
            assert set(names) <= alerts, set(names) - alerts


def test_amtool_refuses_a_broken_alertmanager_config(tmp_path):
    # given: a route to a receiver that does not exist (the check above must be able to fail)
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config["route"]["routes"][0]["receiver"] = "nobody"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))

    # when
    result = subprocess.run([AMTOOL, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True,
                            text=True, timeout=60)

    # then
    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["queue-health.json", "business-flow.json"])
def test_dashboards_have_panels_with_prometheus_targets(name):
    # given
    dashboard = dashboards()[name]

    # then
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
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


# --- What the dashboards show -------------------------------------------------------------------

DASHBOARD_NAMES = ["queue-health.json", "business-flow.json"]


def rendered_color(panel: dict, value: float) -> str:
    """The colour Grafana gives a stat value: a matching value mapping's, else the colour of
    the highest threshold step at or below the value."""
    defaults = panel["fieldConfig"]["defaults"]
    for mapping in defaults.get("mappings", []):
        if mapping["type"] == "value" and str(value if value % 1 else int(value)) in mapping["options"]:
            result = mapping["options"][str(value if value % 1 else int(value))]
            if result.get("color"):
                return result["color"]
    color = None
    for step in defaults["thresholds"]["steps"]:
        if step["value"] is None or value >= step["value"]:
            color = step["color"]
    return color


def panel_titled(title: str) -> dict:
    return next(panel for dashboard in dashboards().values() for panel in panels(dashboard)
                if panel["title"] == title)


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_stat_panel_has_thresholds_and_value_mappings(name):
    stats = [panel for panel in panels(dashboards()[name]) if panel["type"] == "stat"]
    assert stats
    for panel in stats:
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["thresholds"]["steps"] and defaults["thresholds"]["steps"][0]["value"] is None, panel["title"]
        assert defaults["mappings"], panel["title"]
        assert defaults.get("color", {}).get("mode") == "thresholds", panel["title"]


@pytest.mark.parametrize("title, value, color, text", [
    ("Workers alive per queue", 0, "red", "None"),
    ("Workers alive per queue", 2, "green", None),
    ("Dependencies reachable from web", 0, "red", "Down"),
    ("Dependencies reachable from web", 1, "green", "Up"),
    ("Scrape targets up", 0, "red", "Down"),
    ("Scrape targets up", 1, "green", "Up"),
    ("/ready/ state", 0, "green", "Ready"),
    ("/ready/ state", 1, "orange", "Degraded"),
    ("/ready/ state", 2, "red", "Not ready"),
    ("Oldest pending transaction", 600, "red", None),
    ("Oldest pending transaction", 0, "green", "None waiting"),
    ("Beat heartbeat: since the last transaction sweep", 3, "green", None),
    ("Beat heartbeat: since the last transaction sweep", 300, "red", None),
    ("Beat heartbeat: since the last transaction sweep", -1, "red", "Never seen"),
    ("Codes remaining (all pools)", 0, "red", "None left"),
])
def test_a_bad_state_renders_red_and_a_good_one_green(title, value, color, text):
    # given
    panel = panel_titled(title)

    # then
    assert rendered_color(panel, value) == color
    if text:
        options = next(m["options"] for m in panel["fieldConfig"]["defaults"]["mappings"] if m["type"] == "value")
        assert options[str(value)]["text"] == text


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_panel_has_a_description(name):
    for panel in panels(dashboards()[name]):
        assert len(panel.get("description", "")) >= 20, panel["title"]


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_the_datasource_is_the_datasource_variable_and_importable(name):
    # given
    dashboard = dashboards()[name]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}

    # then: one datasource variable, used by every panel, target and query variable
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE and variable["includeAll"] and variable["allValue"] == ".*"
    # no hard-coded datasource uid anywhere; an import asks for the Prometheus to use
    assert not re.search(r'"uid":\s*"(?!\$\{datasource\})', json.dumps(
        {key: value for key, value in dashboard.items() if key != "uid"}))
    assert [i["name"] for i in dashboard["__inputs"] if i["type"] == "datasource"] == ["DS_PROMETHEUS"]


@pytest.mark.parametrize("name, variable", [("queue-health.json", "queue"), ("queue-health.json", "job"),
                                            ("business-flow.json", "kind")])
def test_query_variables_are_used_by_panels(name, variable):
    dashboard = dashboards()[name]
    used = [panel["title"] for panel in panels(dashboard)
            if any(f"${variable}" in target["expr"] for target in panel["targets"])]
    assert used, variable


def test_the_dashboards_link_each_other_prometheus_and_alertmanager():
    for name, dashboard in dashboards().items():
        urls = [link["url"] for link in dashboard["links"]]
        others = [other["uid"] for other_name, other in dashboards().items() if other_name != name]
        for uid in others:
            assert any(url.startswith(f"/d/{uid}/") for url in urls), (name, urls)
        assert any(url.endswith(":9090/alerts") for url in urls), (name, urls)
        assert any(url.endswith(":9093") for url in urls), (name, urls)


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_http_panels_leave_out_the_probes_metrics_and_the_admin(name):
    for panel in panels(dashboards()[name]):
        for target in panel["targets"]:
            if "django_http_" in target["expr"]:
                for selector in re.findall(r"django_http_\w+\{([^}]*)\}", target["expr"]):
                    assert 'view!~"prometheus-django-metrics|health|ready|admin:.*"' in selector, panel["title"]
                assert not re.search(r"django_http_\w+(?!\{)\b\[", target["expr"]), panel["title"]


# The unit an expression's values are in, told from its shape; a panel axis shows one.
UNIT_KINDS = {"per second": {"ops", "reqps"}, "seconds": {"s"}, "ratio": {"percentunit"},
              "cpu": {"percentunit"}, "bytes": {"bytes"}, "count": {"short", "none"},
              "per minute": {"short"}}


def unit_kind(expr: str) -> str:
    if "histogram_quantile" in expr or expr.startswith("time() -") or re.search(r"_age_seconds\b", expr):
        return "seconds"
    if "process_cpu_seconds_total" in expr:
        return "cpu"
    if re.search(r"_bytes\b", expr):
        return "bytes"
    if re.search(r"\)\s*/\s*sum", expr):
        return "ratio"
    if "deriv(" in expr:
        return "per minute" if expr.rstrip().endswith("* 60") else "per second"
    if "rate(" in expr:
        return "per second"
    return "count"


def axes(panel: dict) -> dict[tuple[str, str], set[str]]:
    """(unit, axis placement) -> the unit kinds of the targets drawn on it. A target moves to
    another axis only through an override by its refId that sets both unit and placement."""
    defaults = panel["fieldConfig"]["defaults"]
    default_axis = (defaults.get("unit", ""), defaults.get("custom", {}).get("axisPlacement", "auto"))
    by_ref = {}
    for override in panel["fieldConfig"].get("overrides", []):
        properties = {p["id"]: p["value"] for p in override["properties"]}
        assert override["matcher"]["id"] == "byFrameRefID", (panel["title"], override["matcher"])
        if "unit" in properties:
            assert properties.get("custom.axisPlacement", "auto") != default_axis[1], \
                f"{panel['title']}: a second unit needs its own axis"
            by_ref[override["matcher"]["options"]] = (properties["unit"], properties["custom.axisPlacement"])
    result: dict = {}
    for target in panel["targets"]:
        result.setdefault(by_ref.get(target["refId"], default_axis), set()).add(unit_kind(target["expr"]))
    return result


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_one_unit_per_axis(name):
    for panel in panels(dashboards()[name]):
        for (unit, placement), kinds in axes(panel).items():
            assert len(kinds) == 1, f"{panel['title']}: {sorted(kinds)} on one axis"
            assert unit in UNIT_KINDS[next(iter(kinds))], f"{panel['title']}: {kinds} shown in {unit}"


def test_one_unit_per_axis_catches_a_mixed_panel():
    # given: a run time quantile drawn on the axis of a rate (as "Task runs and p95 run time" was)
    panel = {"title": "mixed", "fieldConfig": {"defaults": {"unit": "ops"}, "overrides": []},
             "targets": [{"refId": "A", "expr": "sum by (task) (rate(offers_celery_task_runs_total[5m]))"},
                         {"refId": "B", "expr": "histogram_quantile(0.95, sum by (le, task) "
                                                "(rate(offers_celery_task_seconds_bucket[5m])))"}]}

    # then
    assert axes(panel) == {("ops", "auto"): {"per second", "seconds"}}
    # and with the quantile on a right axis of its own it is fine
    panel["fieldConfig"]["overrides"] = [{"matcher": {"id": "byFrameRefID", "options": "B"}, "properties": [
        {"id": "unit", "value": "s"}, {"id": "custom.axisPlacement", "value": "right"}]}]
    assert axes(panel) == {("ops", "auto"): {"per second"}, ("s", "right"): {"seconds"}}
