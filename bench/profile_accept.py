"""python -m bench.profile_accept [N]: cProfile of N activation requests through Django's
test client (the whole middleware + DRF stack, no ASGI server), SQL statements per request."""
import cProfile
import io
import os
import pstats
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("THROTTLE_USER", "100000000/min")
os.environ.setdefault("THROTTLE_TRANSACTIONS", "100000000/min")
import django  # noqa: E402

django.setup()
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import User  # noqa: E402
from bench import data  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    users = data.customers_create(50, f"prof-accept-{time.time_ns()}")
    offer_id = data.offer_create()
    tokens = [str(AccessToken.for_user(u)) for u in User.objects.filter(id__in=users)]
    client = Client()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        profiler.enable()
        for i in range(n):
            r = client.post("/api/v1/activation/", {"offer_id": offer_id}, content_type="application/json",
                            HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
            assert r.status_code == 202, r.content
        profiler.disable()
    elapsed = time.perf_counter() - t0
    print(f"{n} accepts in {elapsed:.2f} s = {n / elapsed:.0f}/s in one thread; {len(queries) / n:.1f} SQL per request")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(int(os.environ.get("PROFILE_LINES", "45")))
    print(out.getvalue())


if __name__ == "__main__":
    main()
