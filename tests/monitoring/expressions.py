"""Every PromQL expression the operators depend on, read from the dashboards and the alert
rules themselves (no hand-kept list)."""
from __future__ import annotations

from pathlib import Path

import yaml

from monitoring.dashboards_index import dashboards, panels, variables_all  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
DASHBOARDS_DIR = ROOT / "monitoring" / "grafana" / "dashboards"
COMPARISONS = (">=", "<=", "==", "!=", ">", "<")


def dashboard_expressions() -> list[tuple[str, str]]:
    return [(f"{name}: {panel['title']} [{target['refId']}]", variables_all(target["expr"], dashboard))
            for name, dashboard in dashboards().items() for panel in panels(dashboard)
            for target in panel.get("targets", [])]


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def alert_expressions() -> list[tuple[str, str]]:
    """An alert's expression with every comparison made a `bool` one: the condition is
    evaluated to 0/1 for every series instead of filtering the quiet ones away, so a
    healthy system still answers with a series per alert."""
    return [(f"alert {rule['alert']}", comparisons_as_bool(rule["expr"])) for rule in alert_rules()]


def comparisons_as_bool(expr: str) -> str:
    out, i, depth, quote = [], 0, 0, ""
    while i < len(expr):
        char = expr[i]
        if quote:
            out.append(char)
            if char == "\\":
                out.append(expr[i + 1])
                i += 1
            elif char == quote:
                quote = ""
            i += 1
            continue
        if char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            op = next((c for c in COMPARISONS if expr.startswith(c, i)), None)
            if op:
                out.append(f"{op} bool")
                i += len(op)
                continue
        out.append(char)
        i += 1
    return "".join(out)


def all_expressions() -> list[tuple[str, str]]:
    return dashboard_expressions() + alert_expressions()
