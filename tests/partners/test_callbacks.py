"""Signed callbacks to a real HTTP server on 127.0.0.1: end to end through the live web and
worker, and the delivery service's retry rules called directly."""
import json
import time
from decimal import Decimal

import pytest
import requests

from activation.models import Transaction
from partners.models import CallbackDelivery
from partners.services import callback_deliver, partner_callback_schedule
from tests.factories import OfferFactory, customer
from tests.helpers import wait_until_terminal
from tests.partners.callback_server import CallbackServer
from tests.partners.signing import ACTIVATE, body_of, partner, sign, signed_headers


@pytest.fixture
def callback_server():
    server = CallbackServer()
    server.start()
    yield server
    server.stop()


def wait_for_delivery(transaction_id, timeout: float = 30) -> CallbackDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = CallbackDelivery.objects.filter(transaction_id=transaction_id).first()
        if delivery is not None and delivery.status != CallbackDelivery.Status.PENDING:
            return delivery
        time.sleep(0.1)
    raise AssertionError("callback not finished in time")


def activate_live(web, credentials, data: dict) -> dict:
    body = body_of(data)
    response = requests.post(f"{web.url}{ACTIVATE}", data=body, headers=signed_headers(credentials, "POST",
                                                                                         ACTIVATE, body))
    assert response.status_code == 202, response.text
    return response.json()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_partner_receives_a_signed_event_when_its_activation_settles(live_stack, callback_server):
    # given
    web, _ = live_stack
    ivan = customer(balance="30.00", phone="+33612340001")
    offer = OfferFactory(price=Decimal("10.00"))
    credentials = partner(callback_url=callback_server.url, customers=[ivan])

    # when
    accepted = activate_live(web, credentials, {"reference": "CB-1", "customer": "+33612340001",
                                                "offer_id": offer.id})
    wait_until_terminal([accepted["transaction_id"]])
    delivery = wait_for_delivery(accepted["transaction_id"])

    # then: one POST whose signature verifies with the partner's secret
    [received] = callback_server.wait_for(1)
    headers = received.headers
    expected = sign(credentials.secret, "POST", "/hooks/offers?v=1", headers["X-Partner-Timestamp"], received.body)
    assert headers["X-Partner-Signature"] == expected
    assert headers["X-Partner-Key"] == credentials.key_id
    assert abs(int(headers["X-Partner-Timestamp"]) - time.time()) < 60
    event = json.loads(received.body)
    assert event["event_id"] == headers["X-Partner-Event-Id"] == str(delivery.id)
    assert event["type"] == "transaction.succeeded"
    assert event["data"]["reference"] == "CB-1"
    assert event["data"]["transaction_id"] == accepted["transaction_id"]
    assert (event["data"]["status"], event["data"]["is_valid"]) == ("SUCCEEDED", True)
    assert delivery.status == "delivered" and delivery.attempts.count() == 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_callback_answered_500_twice_is_retried_and_delivered_once(live_stack, callback_server):
    # given: an endpoint that fails twice, and a per-request callback URL
    web, _ = live_stack
    callback_server.answers = [500, 500]
    judy = customer(balance="30.00", phone="+33612340002")
    credentials = partner(callback_url="http://127.0.0.1:9/never-used", customers=[judy])

    # when
    accepted = activate_live(web, credentials, {"reference": "CB-2", "customer": "+33612340002",
                                                "offer_id": OfferFactory().id, "callback_url": callback_server.url})
    wait_until_terminal([accepted["transaction_id"]])
    delivery = wait_for_delivery(accepted["transaction_id"])
    time.sleep(1.0)  # room for a (wrong) extra delivery to show up

    # then: three attempts recorded, one event id, delivered once
    assert delivery.status == "delivered"
    attempts = list(delivery.attempts.all())
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert attempts[0].attempted_at < attempts[1].attempted_at < attempts[2].attempted_at
    assert [r.answered for r in callback_server.received] == [500, 500, 200]
    assert {r.headers["X-Partner-Event-Id"] for r in callback_server.received} == {str(delivery.id)}
    assert CallbackDelivery.objects.filter(transaction_id=accepted["transaction_id"]).count() == 1


# --- the delivery service called directly (nothing is enqueued: the test's transaction
# --- never commits, so no on_commit hook runs) ------------------------------------------

def _finished_partner_transaction(api_client, callback_url: str) -> Transaction:
    from activation.services import transactions_settle
    from tests.partners.signing import post_signed

    mallory = customer(balance="30.00", phone="+33612340003")
    credentials = partner(callback_url=callback_url, customers=[mallory])
    accepted = post_signed(api_client, credentials, {"reference": "CB-3", "customer": "+33612340003",
                                                     "offer_id": OfferFactory().id}).json()
    [txn] = transactions_settle(transaction_id=accepted["transaction_id"])
    return txn


@pytest.mark.django_db
@pytest.mark.parametrize("answer, retried", [(400, False), (404, False), (410, False), (408, True), (429, True),
                                             (503, True)])
def test_client_errors_are_not_retried_except_408_and_429(api_client, callback_server, settings, answer, retried):
    # given
    settings.PARTNER_CALLBACK_BACKOFF_BASE_SECONDS = 0.01
    callback_server.answers = [answer]
    txn = _finished_partner_transaction(api_client, callback_server.url)
    delivery = partner_callback_schedule(transaction=txn)

    # when
    first = callback_deliver(delivery_id=delivery.id)
    if first.retry_in is not None:
        time.sleep(first.retry_in)
    second = callback_deliver(delivery_id=delivery.id)

    # then
    assert (first.retry_in is not None) == retried
    expected = ("delivered", 2) if retried else ("failed", 1)
    assert (second.row.status, second.row.attempts.count()) == expected


@pytest.mark.django_db
def test_network_errors_are_retried_until_the_window_closes(api_client, settings):
    # given: nothing listens on the callback port, and a retry window of three seconds (the
    # first retry, 0.3-0.6 s away, must still fit in it after a slow first attempt)
    settings.PARTNER_CALLBACK_BACKOFF_BASE_SECONDS = 0.6
    settings.PARTNER_CALLBACK_RETRY_WINDOW_SECONDS = 3
    txn = _finished_partner_transaction(api_client, "http://127.0.0.1:9/hook")
    delivery = partner_callback_schedule(transaction=txn)

    # when
    results = [callback_deliver(delivery_id=delivery.id)]
    while results[-1].retry_in is not None:
        time.sleep(results[-1].retry_in)
        results.append(callback_deliver(delivery_id=delivery.id))

    # then: retried at least once, then given up with every attempt recorded
    delivery.refresh_from_db()
    assert delivery.status == "failed" and len(results) >= 2
    assert delivery.attempts.count() == len(results)
    assert all(a.status_code is None and a.error for a in delivery.attempts.all())


@pytest.mark.django_db
def test_an_event_is_recorded_once_per_transaction_and_status(api_client, callback_server):
    # given
    txn = _finished_partner_transaction(api_client, callback_server.url)

    # when: the signal fires twice for the same outcome
    first = partner_callback_schedule(transaction=txn)
    second = partner_callback_schedule(transaction=txn)

    # then
    assert first.id == second.id
    assert CallbackDelivery.objects.filter(transaction=txn).count() == 1


@pytest.mark.django_db
def test_redelivery_sends_the_same_event_again(api_client, callback_server):
    # given: a delivered event
    from partners.services import callback_redeliver

    txn = _finished_partner_transaction(api_client, callback_server.url)
    delivery = partner_callback_schedule(transaction=txn)
    callback_deliver(delivery_id=delivery.id)

    # when
    callback_redeliver(delivery=delivery)
    result = callback_deliver(delivery_id=delivery.id)

    # then
    assert result.row.status == "delivered" and result.row.attempts.count() == 2
    assert [r.headers["X-Partner-Event-Id"] for r in callback_server.received] == [str(delivery.id)] * 2


@pytest.mark.django_db
def test_the_sweeper_re_enqueues_overdue_pending_callbacks_only(api_client, callback_server, monkeypatch):
    # given: one overdue pending delivery, one delivered
    from datetime import timedelta

    from django.utils import timezone

    from partners import services

    enqueued = []
    monkeypatch.setattr(services.callback_outbox, "enqueue", lambda pk, countdown=0: enqueued.append(pk))
    txn = _finished_partner_transaction(api_client, callback_server.url)
    overdue = partner_callback_schedule(transaction=txn)
    CallbackDelivery.objects.filter(pk=overdue.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    delivered = CallbackDelivery.objects.create(partner=overdue.partner, transaction=txn, event_type="transaction.x",
                                                url=overdue.url, payload={}, status="delivered",
                                                next_attempt_at=timezone.now() - timedelta(minutes=5),
                                                retry_until=timezone.now())

    # when
    swept = services.partner_callbacks_sweep()

    # then
    assert swept == 1 and enqueued == [overdue.id]
    assert delivered.id not in enqueued
