"""python -m bench.profile_latency [N]: where the time of ONE settlement goes at low load.
N times: one activation is accepted as the API accepts it (PENDING row, status, a settlement
message), then the message's work (`transactions_settle_pending`) runs in this process under
cProfile with a wall clock (PROFILE=0: timings only), so waits on PostgreSQL and Redis show; prints the mean per
settlement, the CPU this process and its PostgreSQL backend spent per activation (accept and
settlement both run here), and the SQL statements the last settlement sent. The queued messages are purged afterwards.
Needs a migrated database (DATABASE_URL) and Redis (REDIS_URL)."""
import cProfile
import io
import os
import pstats
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django  # noqa: E402

django.setup()
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from activation.services import transactions_settle_pending  # noqa: E402
from bench import data  # noqa: E402
from bench.stack import cpu_seconds  # noqa: E402
from config.celery import app  # noqa: E402
from offers.models import Offer  # noqa: E402
from offers.services import offer_activation_request  # noqa: E402


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    users = data.customers_create(n, f"prof-lat-{time.time_ns()}")
    offer = Offer.objects.get(pk=data.offer_create())
    profiler = cProfile.Profile()
    profiling = os.environ.get("PROFILE", "1") == "1"
    durations = []
    backend = _backend_pid()
    cpu0, pg_cpu0 = time.process_time(), cpu_seconds(backend)
    with CaptureQueriesContext(connection) as queries:
        for user_id in users:
            offer_activation_request(user_id=user_id, offer=offer, idempotency_key=None)
            before = len(queries)
            t0 = time.perf_counter()
            if profiling:
                profiler.enable()
            finished = transactions_settle_pending()
            if profiling:
                profiler.disable()
            durations.append(time.perf_counter() - t0)
            assert finished == 1, finished
            last = queries.captured_queries[before:]
    cpu, pg_cpu = time.process_time() - cpu0, cpu_seconds(backend) - pg_cpu0
    app.control.purge()
    durations.sort()
    print(f"{n} settlements one at a time: mean {statistics.mean(durations) * 1000:.2f} ms, "
          f"p50 {durations[n // 2] * 1000:.2f} ms, p99 {durations[int(n * 0.99)] * 1000:.2f} ms; "
          f"the last one sent {len(last)} SQL statements; CPU per accept + settlement: this process "
          f"{cpu / n * 1000:.2f} ms, its PostgreSQL backend {pg_cpu / n * 1000:.2f} ms:")
    for q in last:
        print("   ", q["time"], q["sql"][:160])
    if not profiling:
        return
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
        int(os.environ.get("PROFILE_LINES", "45")))
    print(out.getvalue())


if __name__ == "__main__":
    main()
