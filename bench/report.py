"""report.md, report.json and the PNG plots."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = {
    "S1": ("shipped /health/ req/s ÷ the same app's /health/ under plain gunicorn sync WSGI (wrk)", ">=", 0.9),
    "S2": ("activation accepts/s (JWT, settlement running, shipped server) ÷ that WSGI /health/ req/s (wrk)",
           ">=", 0.3),
    "S4": ("status polls/s of settled transactions (JWT, shipped server) ÷ that WSGI /health/ req/s (wrk); "
           "no goal: what a client's poll after each 202 costs", None, None),
    "S3": ("code claims settled/s on one hot pool ÷ pgbench simple-update TPS", ">=", 0.5),
    "S3f": ("flash reservations settled/s on one hot promo ÷ pgbench simple-update TPS", ">=", 0.5),
    "P1": ("one hot campaign: settled/s ÷ the batched-write ceiling's items/s", ">=", 0.3),
    "P2": ("hot rate ÷ rate spread over many campaigns", ">=", 0.8),
    "P3": ("accepted activations/s ÷ /health/ req/s", ">=", 0.35),
    "P4": ("accept→final p99 at 50 % of P3 rate ÷ no-op Celery round trip p99", "<=", 3.0),
    "P5": ("backlog drain rate ÷ offered rate", ">=", 1.5),
    "P6": ("durable throughput ÷ synchronous_commit=off, no AOF", ">=", 0.8),
    "P7": ("worst RSS growth of a web/worker process over the soak (%)", "<", 5.0),
}


def _ratio(name: str, s: dict):
    return s.get("worst_growth_percent") if name == "P7" else s.get("ratio")


def _raw(name: str, s: dict, b: dict) -> str:
    if "error" in s:
        return f"error: {s['error']}"
    if name == "S1":
        return (f"{_rounds(s)}shipped {s['shipped_health']['requests_per_second']}/s (p99 "
                f"{s['shipped_health']['p99_ms']} ms) vs WSGI {s['wsgi_health']['requests_per_second']}/s (p99 "
                f"{s['wsgi_health']['p99_ms']} ms), {s['shipped_health']['connections']} connections")
    if name == "S2":
        a = s["accepts"]
        return (f"{_rounds(s)}{a['requests_per_second']}/s accepted (statuses {a['statuses']}, p50/p99 {a['p50_ms']}/"
                f"{a['p99_ms']} ms) vs WSGI /health/ {s['wsgi_health']['requests_per_second']}/s")
    if name == "S4":
        p = s["polls"]
        return (f"{_rounds(s)}{p['requests_per_second']}/s (statuses {p['statuses']}, p50/p99 {p['p50_ms']}/"
                f"{p['p99_ms']} ms) vs WSGI /health/ {s['wsgi_health']['requests_per_second']}/s")
    if name in ("S3", "S3f"):
        return (f"{s['settled_per_second']}/s ({s['transactions']} in {s['seconds']} s, {s['succeeded']} succeeded) "
                f"vs {b.get('pgbench_simple_update_tps')} TPS")
    if name == "P1":
        c = b.get("batched_write_ceiling") or {}
        return (f"{s['settled_per_second']}/s ({s['transactions']} in {s['seconds']} s) vs ceiling "
                f"{c.get('items_per_second')} items/s ({c.get('tps')} commits/s of {c.get('items_per_commit')}); "
                f"÷ pgbench simple-update {b.get('pgbench_simple_update_tps')} TPS = "
                f"{s.get('ratio_vs_pgbench_simple_update')}; hot-row UPDATE {b.get('pgbench_hot_row_update_tps')} TPS")
    if name == "P2":
        return f"spread {s['settled_per_second']}/s ({s['transactions']} in {s['seconds']} s)"
    if name == "P3":
        return (f"{_rounds(s)}{s['accepted_per_second']}/s accepted ({s['errors']} errors, p99 {s['p99_ms']} ms, "
                f"{s['clients']} clients) vs /health/ {s['health_requests_per_second']}/s")
    if name == "P4":
        a, e, h = s["accept_to_final"], s.get("due_to_final", {}), s["accept"]
        w = s.get("warmup", {})
        warmup = (f"; the {w['seconds']} s warm-up before it (not counted): accept→final p99 "
                  f"{w['accept_to_final']['p99_ms']} ms" if w else "")
        return (f"{_rounds(s)}offered {s['offered_per_second']}/s for {s.get('seconds', '?')} s, achieved "
                f"{s['achieved_per_second']}/s, {s['errors']} errors; accept (202)→final p50/p95/p99 "
                f"{a['p50_ms']}/{a['p95_ms']}/{a['p99_ms']} ms vs ping p99 {s['celery_ping_p99_ms']} ms; the HTTP "
                f"accept itself p50/p99 {h['p50_ms']}/{h['p99_ms']} ms; due→final p50/p99 {e.get('p50_ms')}/"
                f"{e.get('p99_ms')} ms{warmup}")
    if name == "P5":
        return (f"offered {s['offered_per_second']}/s (achieved {s['achieved_per_second']}/s, accept p99 "
                f"{s['accept']['p99_ms']} ms), backlog {s['backlog']} drained at {s['drain']['settled_per_second']}/s")
    if name == "P6":
        return (f"durable {s['durable']['settled_per_second']}/s vs non-durable {s['non_durable']['settled_per_second']}/s"
                f" (synchronous_commit seen: {s['synchronous_commit_seen']})")
    if name == "P7":
        return (f"{s['seconds']} s at {s['offered_per_second']}/s offered ({s['achieved_per_second']}/s achieved, "
                f"{s['errors']} errors, p99 {s['latency']['p99_ms']} ms) over {len(s['processes'])} processes")
    return ""


def _rounds(s: dict) -> str:
    """"ratios of rounds 0.41 / 0.38 / 0.44, median round 2: " for a scenario measured in rounds."""
    rounds = s.get("rounds") or []
    if len(rounds) < 2:
        return ""
    return f"ratios of rounds {' / '.join(str(r.get('ratio')) for r in rounds)}, median round {s['round']}: "


def _met(op: str | None, value, target) -> str:
    if value is None or op is None:
        return "—"
    ok = value >= target if op == ">=" else value <= target if op == "<=" else value < target
    return "yes" if ok else "**no**"


def report_write(out: Path, results: dict) -> None:
    plots = plots_write(out, results)
    results = {**results, "plots": plots}
    (out / "report.json").write_text(json.dumps({k: v for k, v in results.items() if k != "latencies"},
                                                indent=1, default=str))
    s, b, c = results["scenarios"], results["baselines"], results["conditions"]
    lines = [f"# Benchmark report {'(SMOKE — sizes tiny, numbers meaningless)' if results['smoke'] else ''}", "",
             f"**{'FAILED' if results['failed'] else 'PASSED'}** (invariants and completion; no timing is asserted)",
             ""]
    for failure in results["failed"]:
        lines.append(f"- FAILED: {failure}")
    lines += ["", "## Conditions", ""]
    lines += [f"- {k}: {v}" for k, v in c.items()]
    lines += [f"- elapsed: {results.get('elapsed_seconds')} s", "", "## Baselines (same run)", "",
              f"- pgbench simple-update: {b.get('pgbench_simple_update_tps')} TPS",
              f"- single hot row UPDATE (pgbench custom script): {b.get('pgbench_hot_row_update_tps')} TPS"]
    if "batched_write_ceiling" in b:
        c = b["batched_write_ceiling"]
        lines.append(f"- batched-write ceiling (pgbench: {c['items_per_commit']} transaction rows + "
                     f"{c['items_per_commit']} redemption rows + one hot-row UPDATE per commit): {c['tps']} commits/s "
                     f"= {c['items_per_second']} items/s")
    if "celery_ping" in b:
        p = b["celery_ping"]
        lines.append(f"- no-op Celery task round trip: p50 {p['p50_ms']} ms, p95 {p['p95_ms']} ms, p99 {p['p99_ms']} ms")
    if "health" in b:
        h = b["health"]
        lines.append(f"- /health/: {h['requests_per_second']} req/s ({h['clients']} clients, p99 {h['p99_ms']} ms, "
                     f"{h['errors']} errors)")
    lines += ["", "## Scenarios", "", "| | scenario | target | measured | met | raw numbers |", "|---|---|---|---|---|---|"]
    for name, (label, op, target) in TARGETS.items():
        if name not in s:
            continue
        value = _ratio(name, s[name])
        lines.append(f"| {name} | {label} | {f'{op} {target}' if op else '—'} | {value} | {_met(op, value, target)} | "
                     f"{_raw(name, s[name], b)} |")
    lines += ["", "## Invariants after each scenario", ""]
    for name, checks in results["invariants"].items():
        broken = {k: v for k, v in checks.items() if v}
        lines.append(f"- {name}: {'all hold' if not broken else broken}")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def plots_write(out: Path, results: dict) -> list[str]:
    written = []
    series = results["series"]
    groups = [("settlement drains (pre-loaded or backlog): settled/s", lambda n: n in ("P1", "P2", "P5") or
               n.startswith("P6")),
              ("HTTP load phases: successful responses/s", lambda n: n in ("health", "P3", "P4")),
              ("P7 soak: successful responses/s", lambda n: n == "P7")]
    panels = [(title, {n: pts for n, pts in series.items() if pick(n) and len(pts) > 1}) for title, pick in groups]
    panels = [(title, chosen) for title, chosen in panels if chosen]
    if panels:
        fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
        for ax, (title, chosen) in zip(axes[:, 0], panels):
            for name, points in chosen.items():
                xs, rates, last = [0.0], [0.0], points[0]
                for point in points[1:]:
                    if point[0] - last[0] >= 1.0 or point is points[-1]:
                        xs.append(point[0])
                        rates.append((point[1] - last[1]) / max(point[0] - last[0], 1e-6))
                        last = point
                ax.plot(xs, rates, label=name, linewidth=1.2)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("seconds since the phase started")
            ax.legend(fontsize=7, ncol=3)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "throughput.png", dpi=100)
        plt.close(fig)
        written.append("throughput.png")
    lat = {k: v for k, v in results.get("latencies", {}).items() if v}
    if lat:
        fig, ax = plt.subplots(figsize=(10, 5))
        ax.set_prop_cycle(color=plt.cm.tab20.colors)  # rounds add series: 20 distinct colours
        for name, values in lat.items():
            values = sorted(v * 1000 for v in values)
            ys = [(i + 1) / len(values) for i in range(len(values))]
            ax.plot(values, ys, label=f"{name} (n={len(values)})", linewidth=1.2)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("fraction of requests at or below")
        ax.set_title("Latency distribution per scenario (CDF)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(out / "latency.png", dpi=100)
        plt.close(fig)
        written.append("latency.png")
    rss = results.get("rss") or {}
    if rss:
        fig, ax = plt.subplots(figsize=(10, 4))
        for name, rows in rss.items():
            ax.plot([r[0] for r in rows], [r[1] / 1024 for r in rows], label=name, linewidth=1)
        ax.set_xlabel("seconds into the soak")
        ax.set_ylabel("RSS (MiB)")
        ax.set_title("P7: resident memory of web and worker processes")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "rss.png", dpi=100)
        plt.close(fig)
        written.append("rss.png")
    return written
