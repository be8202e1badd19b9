"""End to end: the real web process (gunicorn + uvicorn), the real broker and a real
Celery worker, against the test database."""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
import requests
from django.conf import settings

from activation.models import Transaction
from activation.services import transactions_sweep
from offers.models import Subscription
from tests.factories import PASSWORD, OfferFactory, customer
from tests.helpers import assert_ledger_matches_balance, wait_until_terminal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(base_url: str, username: str) -> dict:
    response = requests.post(f"{base_url}/api/v1/auth/login/", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def test_alice_activates_an_offer_and_polls_until_succeeded(live_stack):
    # given
    web, _ = live_stack
    alice = customer(username="alice", balance="100.00")
    offer = OfferFactory(price=Decimal("29.90"))
    headers = login(web.url, "alice")

    # when
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    status = requests.get(f"{web.url}{body['status_url']}", params={"wait": 20}, headers=headers).json()

    # then
    assert body["status"] == "PENDING" and body["transaction_id"]
    assert status["status"] == "SUCCEEDED", status
    assert status["result"]["amount_charged"] == "29.90"
    assert assert_ledger_matches_balance(alice) == Decimal("70.10")
    subscription = Subscription.objects.get(user=alice)
    assert subscription.offer == offer and subscription.status == "active"
    assert str(subscription.created_by_transaction_id) == body["transaction_id"]
    balance = requests.get(f"{web.url}/api/v1/account/balance/", headers=headers).json()
    assert balance == {"balance": "70.10", "currency": "EUR", "updated_at": balance["updated_at"]}


@pytest.mark.concurrency
def test_50_parallel_activations_with_balance_for_10(live_stack):
    # given: a balance that covers exactly 10 activations
    web, _ = live_stack
    user = customer(username="spender", balance="100.00")
    offer = OfferFactory(price=Decimal("10.00"))
    headers = login(web.url, "spender")

    # when: 50 requests at once
    def activate(_):
        return requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers)

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(activate, range(50)))
    assert [r.status_code for r in responses] == [202] * 50
    txns = wait_until_terminal([r.json()["transaction_id"] for r in responses])

    # then
    outcomes = sorted((t.status, t.failure_code) for t in txns)
    assert outcomes.count(("SUCCEEDED", "")) == 10
    assert outcomes.count(("FAILED", "insufficient_balance")) == 40
    assert assert_ledger_matches_balance(user) == Decimal("0.00")


def test_lost_broker_message_is_settled_after_the_sweeper_runs(live_stack):
    # given: a transaction whose settlement message is deleted from the broker
    web, worker = live_stack
    customer(username="lost", balance="50.00")
    offer = OfferFactory()
    headers = login(web.url, "lost")
    worker.settlement_pause()
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers).json()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.llen("settlement") >= 1
    broker.delete("settlement")
    worker.settlement_resume()
    time.sleep(1.5)
    assert Transaction.objects.get(pk=accepted["transaction_id"]).status == "PENDING"

    # when
    swept = transactions_sweep(stale_after=timedelta(0))

    # then
    assert swept >= 1
    [txn] = wait_until_terminal([accepted["transaction_id"]])
    assert txn.status == "SUCCEEDED"


def test_long_poll_returns_as_soon_as_settlement_finishes(live_stack):
    # given: a pending transaction while settlement is paused
    web, worker = live_stack
    customer(username="waiter", balance="50.00")
    offer = OfferFactory()
    headers = login(web.url, "waiter")
    worker.settlement_pause()
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers).json()
    result = {}

    def long_poll():
        started = time.monotonic()
        response = requests.get(f"{web.url}{accepted['status_url']}", params={"wait": 30}, headers=headers)
        result.update(status=response.json()["status"], elapsed=time.monotonic() - started)

    # when: the client waits, and settlement resumes a second later
    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(1.0)
    assert poller.is_alive()
    worker.settlement_resume()
    poller.join(40)

    # then: answered with the final status long before the 30 s wait ran out (with room for
    # a loaded machine to resume, settle and publish)
    assert result["status"] == "SUCCEEDED"
    assert result["elapsed"] < 20


def test_long_poll_times_out_cleanly_when_nothing_happens(live_stack):
    # given
    web, worker = live_stack
    customer(username="patient", balance="50.00")
    offer = OfferFactory()
    headers = login(web.url, "patient")
    worker.settlement_pause()
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers).json()

    # when
    started = time.monotonic()
    response = requests.get(f"{web.url}{accepted['status_url']}", params={"wait": 1.5}, headers=headers)
    elapsed = time.monotonic() - started

    # then: 200 with the current status after about the requested wait
    assert response.status_code == 200
    assert response.json()["status"] in ("PENDING", "PROCESSING")
    assert elapsed >= 1.4
    worker.settlement_resume()
    wait_until_terminal([accepted["transaction_id"]])


def test_status_falls_back_to_postgres_when_the_redis_key_is_missing(live_stack):
    # given: a settled transaction whose status key is gone from Redis
    web, _ = live_stack
    customer(username="fallback", balance="50.00")
    headers = login(web.url, "fallback")
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": OfferFactory().id},
                             headers=headers).json()
    wait_until_terminal([accepted["transaction_id"]])
    redis.Redis.from_url(settings.CACHE_REDIS_URL).flushdb()

    # when
    status = requests.get(f"{web.url}{accepted['status_url']}", headers=headers).json()

    # then
    assert status["status"] == "SUCCEEDED"


def test_another_customer_cannot_poll_my_transaction(live_stack):
    # given
    web, _ = live_stack
    customer(username="owner", balance="50.00")
    customer(username="snoop")
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": OfferFactory().id},
                             headers=login(web.url, "owner")).json()
    wait_until_terminal([accepted["transaction_id"]])

    # when
    response = requests.get(f"{web.url}{accepted['status_url']}", headers=login(web.url, "snoop"))

    # then
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("status_in_redis", [True, False], ids=["status-in-redis", "status-read-from-postgres"])
def test_waiting_long_polls_hold_no_thread_or_connection_of_the_web(live_stack, status_in_redis):
    # given: a pending transaction while settlement is paused (its status in Redis, or gone
    # from it so that every poll reads PostgreSQL), and more waiting clients than the web has
    # request threads and pooled connections (2 processes x WEB_THREADS 8, DB_POOL_MAX_SIZE 8)
    web, worker = live_stack
    customer(username="crowd", balance="50.00")
    headers = login(web.url, "crowd")
    worker.settlement_pause()
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": OfferFactory().id},
                             headers=headers).json()
    if not status_in_redis:
        redis.Redis.from_url(settings.CACHE_REDIS_URL).flushdb()
    threads_before = web.threads()
    waiting = 40

    def long_poll(_):
        response = requests.get(f"{web.url}{accepted['status_url']}", params={"wait": 6}, headers=headers)
        return response.status_code, response.json().get("status")

    try:
        with ThreadPoolExecutor(waiting) as pool:
            polls = [pool.submit(long_poll, i) for i in range(waiting)]
            time.sleep(2)  # every poll is in, waiting
            assert not any(poll.done() for poll in polls)
            threads_waiting = web.threads()

            # when: other customers' requests arrive meanwhile
            started = time.monotonic()
            answers = [requests.get(f"{web.url}/api/v1/account/balance/", headers=headers) for _ in range(5)]
            elapsed = time.monotonic() - started

            # then: answered at once (a thread and a pooled connection are free), each poll
            # answered in the end, and no thread per waiting poll: at most each process's loop
            # executor (asyncio's default size) and asgiref's shared thread
            assert [a.status_code for a in answers] == [200] * 5 and elapsed < 1.5, elapsed
            assert [poll.result() for poll in polls] == [(200, "PENDING")] * waiting
            assert threads_waiting - threads_before <= 2 * (min(32, os.cpu_count() + 4) + 1), (
                threads_before, threads_waiting)
    finally:
        worker.settlement_resume()
    wait_until_terminal([accepted["transaction_id"]])
