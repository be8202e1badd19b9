"""The benchmark harness in smoke mode, so it cannot rot: it runs end to end against its own
database on the test PostgreSQL server and its own Redis databases, writes the report and
the plots, and every invariant holds. No timing is asserted."""
import json
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.conf import settings

from tests.conftest import ROOT


@pytest.fixture
def bench_database():
    db = settings.DATABASES["default"]
    name = f"bench_smoke_{uuid.uuid4().hex[:8]}"
    admin = dict(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_bench_smoke_run_completes_with_invariants(bench_database, tmp_path):
    env = {**os.environ, "DATABASE_URL": bench_database,
           # Redis databases of their own: the suite's worker consumes db 0's settlement queue.
           "CELERY_BROKER_URL": f"{settings.REDIS_URL}/4", "CACHE_REDIS_URL": f"{settings.REDIS_URL}/5",
           "DJANGO_SETTINGS_MODULE": "config.settings.production", "DEBUG": "0", "SECURE_SSL_REDIRECT": "0",
           "SECRET_KEY": "bench-smoke-" + "x" * 40, "METRICS_TOKEN": "bench-smoke-metrics-token"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == []
    assert set(report["scenarios"]) == {"S1", "S2", "S4", "S3", "S3f", "P1", "P2", "P3", "P4", "P5", "P6", "P7"}
    # S1, S2 and S4: load from wrk, every request answered, against the WSGI baseline of the same round
    for name in ("S1", "S2", "S4"):
        assert report["scenarios"][name]["wsgi_health"]["requests_per_second"] > 0
    assert set(report["scenarios"]["S2"]["accepts"]["statuses"]) == {"202"}
    assert set(report["scenarios"]["S4"]["polls"]["statuses"]) == {"200"}
    # S3: every pre-loaded claim and reservation on the one pool / promo succeeded (one per customer)
    for name in ("S3", "S3f"):
        assert report["scenarios"][name]["succeeded"] == report["scenarios"][name]["transactions"] > 0
    # P1's denominator: PostgreSQL writing with settlement's commit pattern
    assert report["baselines"]["batched_write_ceiling"]["items_per_second"] > 0
    # P3 and P4 run in rounds, each ratio against a baseline measured right before it
    assert [len(report["scenarios"][name]["rounds"]) for name in ("P3", "P4")] == [2, 2]
    # P4's warm-up runs at the same rate and is reported apart from the measured window
    p4 = report["scenarios"]["P4"]
    assert p4["warmup"]["seconds"] == 0.5 and p4["warmup"]["accept_to_final"]["count"] > 0
    assert p4["accept_to_final"]["count"] > 0 and p4["seconds"] == 2
    assert all(not any(checks.values()) for checks in report["invariants"].values())
    assert (out / "report.md").read_text().startswith("# Benchmark report")
    for png in ("throughput.png", "latency.png", "rss.png"):
        assert (out / png).stat().st_size > 0
