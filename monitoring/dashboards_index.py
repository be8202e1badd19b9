"""The Grafana dashboards' queries without Grafana: one HTML page listing every panel of
monitoring/grafana/dashboards/*.json (title, description, unit) with a link that opens its
queries in Prometheus' graph page. `make monitoring` writes it (scripts/monitoring.sh).
Standard library only: it runs with the system python3, without Django.

    python3 -m monitoring.dashboards_index --prometheus http://127.0.0.1:9090 --out dashboards.html
"""
from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from urllib.parse import urlencode

DASHBOARDS_DIR = Path(__file__).resolve().parent / "grafana" / "dashboards"


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # rows
    return found


def variables_all(expr: str, dashboard: dict) -> str:
    """The expression as Grafana sends it with every query variable on "All" (its allValue)."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            for form in (f"${{{variable['name']}}}", f"${variable['name']}"):
                expr = expr.replace(form, variable["allValue"])
    return expr


def graph_url(prometheus: str, exprs: list[str], range_input: str = "1h") -> str:
    params = {}
    for i, expr in enumerate(exprs):
        params.update({f"g{i}.expr": expr, f"g{i}.tab": "0", f"g{i}.range_input": range_input})
    return f"{prometheus.rstrip('/')}/graph?{urlencode(params)}"


def index_html(prometheus: str) -> str:
    parts = ["<!doctype html><meta charset=utf-8><title>Offers platform dashboards (Prometheus)</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}code{font-size:85%}"
             "li{margin:.6em 0}</style>",
             "<h1>Offers platform dashboards, as Prometheus queries</h1>",
             f"<p>Grafana is not installed locally: each panel below opens its queries in "
             f"<a href='{html.escape(prometheus)}/graph'>Prometheus</a> (variables on All). "
             f"<a href='{html.escape(prometheus)}/alerts'>Alerts</a>, "
             f"<a href='{html.escape(prometheus)}/targets'>targets</a>.</p>"]
    for dashboard in dashboards().values():
        parts.append(f"<h2>{html.escape(dashboard['title'])}</h2><p>{html.escape(dashboard.get('description', ''))}</p><ul>")
        for panel in panels(dashboard):
            exprs = [variables_all(target["expr"], dashboard) for target in panel.get("targets", [])]
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
            parts.append(f"<li><a href='{html.escape(graph_url(prometheus, exprs))}'>{html.escape(panel['title'])}</a>"
                         f" <small>({html.escape(panel['type'])}, {html.escape(unit)})</small><br>"
                         f"{html.escape(panel.get('description', ''))}<br>"
                         + "<br>".join(f"<code>{html.escape(expr)}</code>" for expr in exprs) + "</li>")
        parts.append("</ul>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(index_html(args.prometheus))


if __name__ == "__main__":
    main()
