"""Faults injected into real processes while clients submit every kind of transaction over
HTTP: settlement and notification workers SIGKILLed again and again, Redis crashed with all
its data lost, PostgreSQL crashed (`-m immediate`).

Nothing here calls a sweeper or a recovery function: this module's workers and `celery beat`
run with the shipped settings and schedule (a sweep every SWEEPER_INTERVAL_SECONDS = 2 s of
rows unchanged for SWEEPER_STALE_AFTER_SECONDS = 2 s; each worker sends the sweeps when it
connects to the broker), and the tests only wait. After each fault: every accepted
transaction finishes within R2_BOUND_SECONDS of the fault ending, money, budget, codes and
stock are exact, each told outcome has exactly one in-app and one email notification, each
partner outcome exactly one callback event, posted once. Figures for docs/RELIABILITY.md are
printed with `[faults]`."""
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.conftest import RUN_DIR, LiveWorker, Process, _pg_ctl, postgres_server_start, redis_server_start
from tests.faults.workload import R2_BOUND_SECONDS, Workload, finished_within

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUEUES = "settlement,notifications,callbacks,default"
# As make run splits them: settlement on its own, side effects and the rest on another.
WORKER_QUEUES = ("settlement", "notifications,callbacks,default")


@pytest.fixture(scope="module", autouse=True)
def shipped_beat(live_env, live_worker):
    """`celery beat` with the shipped schedule (CELERY_BEAT_SCHEDULE). Celery's file scheduler,
    not make run's DatabaseScheduler: the tests truncate its tables. The session's worker
    stops consuming while this module runs: this module's workers, with the shipped
    settings, are the ones that settle and notify."""
    for queue in QUEUES.split(","):
        live_worker.consumer_cancel(queue)
    beat = Process("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                            "--schedule", str(RUN_DIR / f"celerybeat-schedule-{os.getpid()}")], live_env)
    beat.start()
    yield beat
    beat.stop()
    for queue in QUEUES.split(","):
        live_worker.consumer_add(queue)


@pytest.fixture
def workers(live_env):
    """Starts this test's workers, one per WORKER_QUEUES entry (shipped settings, `extra`
    on top); stops them at the end."""
    started: list[LiveWorker] = []

    def start(**extra: str) -> list[LiveWorker]:
        group = [LiveWorker({**live_env, **extra}, queues=queues) for queues in WORKER_QUEUES]
        for worker in group:
            worker.start()
        started.extend(group)
        return group

    yield start
    for worker in started:
        worker.stop()


def _in_background(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    return thread


def _report(name: str, load: Workload, recovery: float, effects: dict, **figures) -> None:
    codes, unavailable = Counter(s.status_code for s in load.submitted), Counter()
    for submitted in load.submitted:
        if submitted.status_code == 503:
            unavailable[f"{submitted.kind}:{submitted.body.get('code')}"] += 1
    print(f"\n[faults] {name}: requests={len(load.submitted)} statuses={dict(codes)} 503s={dict(unavailable)} "
          f"{' '.join(f'{k}={v}' for k, v in figures.items())} recovery={recovery:.2f}s "
          f"(bound {R2_BOUND_SECONDS}s) outcomes={load.outcomes()} effects={effects}")


def test_sigkilled_workers_lose_double_and_forget_nothing(live_web, workers):
    # given: clients submitting every kind over HTTP
    load = Workload(live_web.url)
    enough = threading.Event()
    clients = _in_background(load.submit_for, 120, 3, 0.05, enough)

    # when: the workers (settlement in batches of 1; notifications) are SIGKILLed with their
    # whole process groups, mid-flight, five times
    kills = 0
    while kills < 5:
        group = workers(SETTLEMENT_BATCH_SIZE="1")
        time.sleep(random.uniform(0.3, 1.5))
        for worker in group:
            os.killpg(worker.popen.pid, signal.SIGKILL)
            worker.popen.wait()
        kills += 1
    enough.set()
    clients.join()
    # the fault ends: a worker is back
    workers()
    back = time.monotonic()

    # then
    recovery = finished_within(load.accepted_ids(), since=back)
    load.purchases_and_reversals()
    effects = load.assert_every_side_effect_exactly_once()
    load.assert_no_server_error_but_503()
    load.assert_money_and_limits_exact()
    _report("worker SIGKILLs", load, recovery, effects, kills=kills)
    assert recovery <= R2_BOUND_SECONDS


def _redis_crash_losing_everything() -> None:
    """`SHUTDOWN NOSAVE`, and its data directory emptied: queued messages, statuses, flags
    and throttles are gone, as after a crash of a Redis without persistence."""
    port = settings.REDIS_URL.rsplit(":", 1)[1]
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], check=False, capture_output=True)
    data = RUN_DIR / "redis"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)


def test_a_redis_crash_loses_nothing_and_recovery_follows_its_return(live_web, workers):
    # given: the workers, and clients submitting every kind for 8 s
    group = workers()
    load = Workload(live_web.url)
    clients = _in_background(load.submit_for, 8)

    # when: Redis (broker, status store, flags, throttles) crashes 2 s in, losing its data,
    # and comes back when the clients stop
    time.sleep(2)
    _redis_crash_losing_everything()
    time.sleep(1)
    customer_headers = load.headers[load.users[0].pk]
    during = requests.post(f"{live_web.url}/api/v1/activation/", json={"offer_id": load.offer.id},
                           headers=customer_headers, timeout=20)
    status_read = requests.get(f"{live_web.url}/api/v1/activation/status/{during.json()['transaction_id']}/",
                               headers=customer_headers, timeout=20) if during.status_code == 202 else None
    clients.join()
    redis_server_start()
    back = time.monotonic()
    for worker in group:
        worker.wait_ready()  # a worker that exited on the outage is started again, as a supervisor would

    # then: everything accepted finishes, its effects exactly once
    recovery = finished_within(load.accepted_ids() + ([during.json()["transaction_id"]] if status_read else []),
                               since=back)
    load.purchases_and_reversals()
    effects = load.assert_every_side_effect_exactly_once()
    load.assert_no_server_error_but_503()
    load.assert_money_and_limits_exact()
    accepted_during = sum(1 for s in load.submitted if s.transaction_id)
    _report("redis crash", load, recovery, effects, accepted=accepted_during)
    assert during.status_code == 202  # transactions stay durable in PostgreSQL
    assert status_read is not None and status_read.status_code == 200  # read from PostgreSQL
    assert [worker.exits for worker in group] == [0] * len(group)  # each reconnected; none had to be restarted
    assert recovery <= R2_BOUND_SECONDS


def test_a_postgres_crash_answers_503_and_recovery_follows_its_return(live_web, workers):
    # given: the workers, and clients submitting every kind for 8 s
    workers()
    load = Workload(live_web.url)
    clients = _in_background(load.submit_for, 8)

    # when: PostgreSQL crashes 2 s in (`-m immediate`: no checkpoint, crash recovery on start)
    # and comes back when the clients stop
    time.sleep(2)
    _pg_ctl("stop", "-m", "immediate", "-w")
    clients.join()
    postgres_server_start()
    back = time.monotonic()
    connection.close()

    # then: only 202s and 503s (error shape, Retry-After); everything accepted finishes
    recovery = finished_within(load.accepted_ids(), since=back)
    load.purchases_and_reversals()
    effects = load.assert_every_side_effect_exactly_once()
    load.assert_no_server_error_but_503()
    load.assert_money_and_limits_exact()
    unavailable = sum(1 for s in load.submitted if s.status_code == 503)
    _report("postgres crash", load, recovery, effects, answered_503=unavailable)
    assert unavailable > 0
    assert recovery <= R2_BOUND_SECONDS
