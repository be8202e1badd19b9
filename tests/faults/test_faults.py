"""Faults injected into real processes: SIGKILLed workers, Redis stopped, PostgreSQL
restarted. Every accepted transaction must end terminal with every effect applied exactly
once, and no client ever sees a 500. Figures are printed for docs/RELIABILITY.md."""
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db import connection
from django.db.models import Count, Sum

from accounts.models import Account, LedgerEntry
from activation.models import Transaction
from activation.services import transaction_accept
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.services import KIND_DISCOUNT_REDEMPTION
from offers.services import KIND_OFFER_ACTIVATION
from tests.campaigns.factories import CampaignFactory
from tests.conftest import RUN_DIR, LiveWorker, Process, redis_server_start, redis_server_stop
from tests.helpers import wait_until_terminal
from tests.factories import OfferFactory, bearer, customer

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module", autouse=True)
def shipped_beat(live_env, live_worker):
    """`celery beat` with the shipped schedule (CELERY_BEAT_SCHEDULE): it, not the test, sends
    the sweeps that recover what a fault left unfinished. Time is scaled down: a sweep every
    second of transactions unchanged for 2 s (the worker reads the same setting from live_env).
    Celery's file scheduler, not make run's DatabaseScheduler: the tests truncate its tables."""
    beat = Process("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                            "--schedule", str(RUN_DIR / f"celerybeat-schedule-{os.getpid()}")],
                   {**live_env, "SWEEPER_INTERVAL_SECONDS": "1"})
    beat.start()
    yield beat
    beat.stop()


def settled_by_the_schedule(ids, timeout: float = 180) -> list[Transaction]:
    """Waits, and only waits: beat's sweeps are what re-enqueue anything a fault left unfinished."""
    return wait_until_terminal(ids, timeout=timeout)


def assert_every_effect_exactly_once(users, campaign: Campaign) -> None:
    for user in users:
        account = Account.objects.get(user=user)
        ledger = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
        assert ledger == account.balance >= 0
    # one debit per succeeded activation, none for anything else
    succeeded = set(Transaction.objects.filter(kind=KIND_OFFER_ACTIVATION, status="SUCCEEDED").values_list("id", flat=True))
    debits = list(LedgerEntry.objects.filter(reason="debit").values_list("transaction_id", flat=True))
    assert len(debits) == len(set(debits)) == len(succeeded) and set(debits) == succeeded
    # one redemption per succeeded redemption, budget spent == their sum
    redeemed = set(Transaction.objects.filter(kind=KIND_DISCOUNT_REDEMPTION, status="SUCCEEDED").values_list("id", flat=True))
    redemptions = list(CampaignRedemption.objects.values_list("transaction_id", flat=True))
    assert len(redemptions) == len(set(redemptions)) == len(redeemed) and set(redemptions) == redeemed
    campaign.refresh_from_db()
    assert campaign.spent_amount == (CampaignRedemption.objects.aggregate(s=Sum("amount"))["s"] or 0)
    assert campaign.spent_amount <= campaign.total_budget


def test_sigkilled_settlement_workers_lose_and_double_nothing(live_env, live_worker):
    # given: 2,000 mixed transactions (activations that partly overdraw, redemptions that
    # exhaust a budget), accepted while only our crash-prone worker settles
    live_worker.settlement_pause()
    users = [customer(balance="50.00") for _ in range(40)]
    offer = OfferFactory(price=Decimal("7.00"))
    campaign = CampaignFactory(value=Decimal("3.00"), total_budget=Decimal("1500.00"))
    ids = []
    for i in range(2000):
        user = users[i % len(users)]
        if i % 2:
            accepted = transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user.id, payload={"offer_id": offer.id},
                                          amount=offer.price, currency="EUR")
        else:
            accepted = transaction_accept(kind=KIND_DISCOUNT_REDEMPTION, user_id=user.id, currency="EUR",
                                          payload={"campaign_id": campaign.id, "cart_value": "40.00",
                                                   "delivery_charge": "0", "order_reference": ""})
        ids.append(accepted.transaction.id)

    # when: a worker settling in small batches is SIGKILLed (whole process group) again and again
    crash_env = {**live_env, "SETTLEMENT_BATCH_SIZE": "1"}
    kills = 0
    try:
        while kills < 12:
            worker = LiveWorker(crash_env, queues="settlement")
            worker.start()
            time.sleep(random.uniform(0.3, 1.2))
            unfinished = Transaction.objects.filter(pk__in=ids, status__in=["PENDING", "PROCESSING"]).count()
            os.killpg(worker.popen.pid, signal.SIGKILL)
            worker.popen.wait()
            kills += 1
            if unfinished == 0:
                break
        settled_during_kills = Transaction.objects.filter(pk__in=ids, status__in=["SUCCEEDED", "FAILED"]).count()
        # then a healthy worker and the sweeper finish the rest
        worker = LiveWorker(live_env, queues="settlement")
        worker.start()
        txns = settled_by_the_schedule(ids)
        worker.stop()
    finally:
        live_worker.settlement_resume()

    # then
    assert kills >= 10
    assert len(txns) == 2000 and all(t.status in ("SUCCEEDED", "FAILED") for t in txns)
    assert_every_effect_exactly_once(users, campaign)
    outcome = Transaction.objects.filter(pk__in=ids).values("status").annotate(n=Count("id"))
    print(f"\n[faults] worker kills={kills} transactions=2000 settled_during_kills={settled_during_kills} "
          f"outcomes={ {o['status']: o['n'] for o in outcome} } "
          f"redeemed={campaign.spent_amount}/{campaign.total_budget}")


def test_redis_down_keeps_accepting_and_everything_settles_after(live_stack):
    # given
    web, worker = live_stack
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("5.00"))
    headers = {"Authorization": bearer(user)}
    statuses = []

    # when: Redis (broker, status store, throttles) is stopped while clients submit
    redis_server_stop()
    try:
        accepted = []
        for i in range(10):
            response = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers,
                                     timeout=30)
            statuses.append(response.status_code)
            if response.status_code == 202:
                accepted.append(response.json())
        status_read = requests.get(f"{web.url}{accepted[0]['status_url']}", headers=headers, timeout=30)
        ready = requests.get(f"{web.url}/ready/", timeout=30)
    finally:
        redis_server_start()

    # then: every request was accepted, status came from PostgreSQL, readiness said 503
    assert statuses == [202] * 10
    assert status_read.status_code == 200 and status_read.json()["status"] in ("PENDING", "PROCESSING")
    assert ready.status_code == 503
    worker.wait_ready()
    txns = settled_by_the_schedule([a["transaction_id"] for a in accepted], timeout=120)
    assert all(t.status == "SUCCEEDED" for t in txns)
    account = Account.objects.get(user=user)
    assert account.balance == Decimal("50.00")
    print(f"\n[faults] redis down: accepted={len(accepted)}/10 with 202, all settled after restart")


def _pg_restart() -> None:
    data = RUN_DIR / "pg"
    bindir = next(p for p in ["/usr/lib/postgresql/15/bin", os.environ.get("PG_BIN", "")] if p and os.path.exists(p))
    command = [f"{bindir}/pg_ctl", "-D", str(data), "-l", str(data / "server.log"), "restart", "-m", "fast", "-w"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", os.environ.get("PG_OS_USER", "postgres"), "--", *command]
    # The server must not inherit our pipes, or waiting for pg_ctl never ends.
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def test_postgres_restart_gives_503_not_500_and_the_service_recovers(live_stack):
    # given: clients submitting continuously, each as its own customer: one client stays under
    # the per-customer transaction throttle (600/min) even when every accept is fast
    web, _ = live_stack
    users = [customer(balance="1000.00") for _ in range(4)]
    offer = OfferFactory(price=Decimal("1.00"))
    results = []
    stop = time.monotonic() + 8

    headers_of = {user.pk: {"Authorization": bearer(user)} for user in users}

    def client_loop(user):
        headers = headers_of[user.pk]
        while time.monotonic() < stop:
            try:
                response = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id},
                                         headers=headers, timeout=30)
                results.append((user.pk, response.status_code, response.headers.get("Retry-After"),
                                response.json()))
            except requests.RequestException as exc:  # pragma: no cover - reported below
                results.append((user.pk, 0, None, repr(exc)))
            time.sleep(0.02)

    # when: PostgreSQL restarts in the middle
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(client_loop, user) for user in users]
        time.sleep(2)
        _pg_restart()
        [f.result() for f in futures]
    connection.close()

    # then: only 202s and 503s in the error shape with Retry-After; no 500s
    codes = {code for _, code, _, _ in results}
    assert codes <= {202, 503}, [r for r in results if r[1] not in (202, 503)][:3]
    for _, code, retry_after, body in results:
        if code == 503:
            assert retry_after and set(body) == {"code", "message", "details"}
    after = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id},
                          headers=headers_of[users[0].pk], timeout=30)
    assert after.status_code == 202
    accepted = [body["transaction_id"] for _, code, _, body in results if code == 202] + [after.json()["transaction_id"]]
    txns = settled_by_the_schedule(accepted, timeout=120)
    assert all(t.status == "SUCCEEDED" for t in txns)
    for user in users:
        debited = sum(code == 202 for pk, code, _, _ in results if pk == user.pk) + (user is users[0])
        assert Account.objects.get(user=user).balance == Decimal("1000.00") - debited
    print(f"\n[faults] postgres restart: requests={len(results)} accepted={len(accepted) - 1} "
          f"503s={sum(c == 503 for _, c, _, _ in results)} 500s=0")
