"""Load from `wrk` (a C load generator, Debian package): one thread and its connections cost
the two cores far less than Python clients would, so the server keeps the CPU it would have
in production. Requests come from a file (bench/wrk/requests.lua reads it), one Lua table per
line; the script prints one JSON line of totals, parsed here."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk" / "requests.lua"


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for this text


def requests_file_write(path: Path, items: list[dict]) -> Path:
    """items: {"method", "path", "headers"?, "json"?} as bench/load.py takes them."""
    with open(path, "w") as out:
        for item in items:
            headers = dict(item.get("headers") or {})
            body = None
            if item.get("json") is not None:
                headers["Content-Type"] = "application/json"
                body = json.dumps(item["json"])
            fields = [f"method={_lua_string(item['method'])}", f"path={_lua_string(item['path'])}",
                      "headers={" + ", ".join(f"[{_lua_string(k)}]={_lua_string(v)}" for k, v in headers.items())
                      + "}"]
            if body is not None:
                fields.append(f"body={_lua_string(body)}")
            out.write("{" + ", ".join(fields) + "}\n")
    return path


def run(base_url: str, requests_path: Path, *, seconds: float, connections: int, threads: int = 1) -> dict:
    """Closed loop: `connections` keep-alive connections, each sending its next request as soon
    as the previous answer arrives. Returns rates, status counts and latency percentiles."""
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed (scripts/lib.sh installs the Debian package)")
    out = subprocess.run([exe, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, int(seconds))}s",
                          "--timeout", "10s", "-s", str(SCRIPT), base_url, "--", str(requests_path)],
                         check=True, capture_output=True, text=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(line[len("WRK_RESULT "):])
    duration = raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    errors = raw["requests"] - ok + raw["errors_connect"] + raw["errors_read"] + raw["errors_write"] \
        + raw["errors_timeout"]
    return {"requests_per_second": round(ok / duration, 1), "ok": ok, "requests": raw["requests"],
            "errors": errors, "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "socket_errors": {k[len("errors_"):]: raw[k] for k in ("errors_connect", "errors_read", "errors_write",
                                                                   "errors_timeout") if raw[k]},
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "seconds": round(duration, 2), "connections": connections}
