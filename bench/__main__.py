"""python -m bench [--smoke] [--out DIR] [--only P1,P3] [--param name=value ...]

Expects DATABASE_URL and REDIS_URL (or CELERY_BROKER_URL / CACHE_REDIS_URL) to point at a
migrated database; starts the web server and the settlement worker itself. See docs/PERFORMANCE.md."""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DEBUG": "0",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "INFO",  # as make run ships: access lines and a line per settled transaction
    "THROTTLE_USER": "100000000/min",
    "THROTTLE_ANON": "100000000/min",
    "THROTTLE_TRANSACTIONS": "100000000/min",
    "JWT_ACCESS_MINUTES": "600",
    "PYTHONUNBUFFERED": "1",
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="everything tiny, in seconds")
    parser.add_argument("--out", help="output directory (default bench/results/<date>)")
    parser.add_argument("--only", default="", help="comma-separated scenarios, e.g. P1,P2 (baselines always run)")
    parser.add_argument("--param", action="append", default=[], help="override a parameter: name=value")
    args = parser.parse_args(argv)

    for key, value in SERVER_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("METRICS_TOKEN", secrets.token_urlsafe(24))

    import django

    django.setup()
    from bench.run import Bench
    from bench.scenarios import SMOKE, Params

    params = Params(**SMOKE.as_dict()) if args.smoke else Params()
    for item in args.param:
        name, value = item.split("=", 1)
        setattr(params, name, type(getattr(params, name))(value))
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / datetime.now().strftime("%Y-%m-%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    bench = Bench(params=params, out=out, smoke=args.smoke, only=only)
    ok = bench.run()
    log(f"report: {out / 'report.md'} ({'PASSED' if ok else 'FAILED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
