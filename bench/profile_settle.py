"""python -m bench.profile_settle [N]: cProfile of settling N pending redemptions on one hot
campaign in-process (batches as a worker runs them), plus the SQL statement count per item
(PROFILE=0: the rate without the profiler's overhead).
Needs a migrated database (DATABASE_URL) and Redis (REDIS_URL)."""
import cProfile
import io
import os
import pstats
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django  # noqa: E402

django.setup()
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from activation.services import transactions_settle  # noqa: E402
from bench import data  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tag = str(time.time_ns())
    users = data.customers_create(200, f"prof-{tag}")
    hot = data.campaigns_create(1, f"prof-{tag}")
    data.redemptions_preload(users, hot, n)
    profiling = os.environ.get("PROFILE", "1") == "1"
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    settled = 0
    with CaptureQueriesContext(connection) as queries:
        if profiling:
            profiler.enable()
        while True:
            done = len(transactions_settle())
            if not done:
                break
            settled += done
        profiler.disable()
    elapsed = time.perf_counter() - t0
    print(f"settled {settled} in {elapsed:.2f} s = {settled / elapsed:.0f}/s in one process; "
          f"{len(queries)} SQL statements = {len(queries) / max(settled, 1):.2f} per item")
    by_statement: dict[str, list[float]] = {}
    for q in queries.captured_queries:
        key = " ".join(q["sql"].split())[:70]
        key = key if not key.startswith("SAVEPOINT") and not key.startswith("RELEASE") else key.split()[0]
        by_statement.setdefault(key, []).append(float(q["time"]))
    print("SQL time by statement (s, count), as the client saw it:")
    for key, times in sorted(by_statement.items(), key=lambda kv: -sum(kv[1]))[:12]:
        print(f"  {sum(times):7.3f} {len(times):5d}  {key}")
    if not profiling:
        return
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(int(os.environ.get("PROFILE_LINES", "35")))
    print(out.getvalue())


if __name__ == "__main__":
    main()
