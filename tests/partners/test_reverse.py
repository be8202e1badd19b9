"""A partner reverses its own activation: the customer is refunded through the ledger, the
validate/ body says REVERSED, and one `transaction.reversed` callback is recorded."""
import json
import time
from decimal import Decimal

import pytest
import requests

from accounts.models import LedgerEntry
from activation.models import Transaction
from activation.services import finished_outbox_drain, transactions_settle
from offers.models import Subscription
from partners import services
from partners.models import CallbackDelivery
from partners.services import partner_callback_schedule, partner_customer_unlink
from tests.factories import OfferFactory, customer
from tests.helpers import assert_ledger_matches_balance, wait_until_terminal
from tests.partners.callback_server import CallbackServer
from tests.partners.signing import (ACTIVATE, body_of, get_signed, partner, post_signed, reverse_path, sign,
                                    signed_headers, validate_path)

NOT_FOUND = {"code": "not_found", "message": "No transaction with this reference.", "details": {}}


def _activated(api_client, *, reference: str, phone: str, price: str = "12.00", callback_url: str = "",
               settle: bool = True):
    bob = customer(balance="50.00", phone=phone)
    credentials = partner(callback_url=callback_url, customers=[bob])
    accepted = post_signed(api_client, credentials, {"reference": reference, "customer": phone,
                                                     "offer_id": OfferFactory(price=Decimal(price)).id})
    assert accepted.status_code == 202, accepted.json()
    if settle:
        transactions_settle(transaction_id=accepted.json()["transaction_id"])
    return bob, credentials, Transaction.objects.get(pk=accepted.json()["transaction_id"])


@pytest.mark.django_db
def test_a_partner_reverses_its_own_activation(api_client):
    # given: bob paid 12.00 through the partner
    bob, credentials, txn = _activated(api_client, reference="RV-1", phone="+33630000001")
    assert assert_ledger_matches_balance(bob) == Decimal("38.00")

    # when
    response = post_signed(api_client, credentials, b"", path=reverse_path("RV-1"))

    # then: the validate body, REVERSED; the money is back through the ledger; no period left
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["reference"], body["transaction_id"]) == ("RV-1", str(txn.id))
    assert (body["status"], body["is_valid"]) == ("REVERSED", False)
    assert get_signed(api_client, credentials, validate_path("RV-1")).json() == body
    assert assert_ledger_matches_balance(bob) == Decimal("50.00")
    reversal = Transaction.objects.get(reverses=txn)
    [refund] = LedgerEntry.objects.filter(account__user=bob, reason="refund")
    assert (refund.amount, refund.transaction_id) == (Decimal("12.00"), reversal.id)
    assert reversal.status == "SUCCEEDED" and reversal.payload.get("requested_by_partner") == credentials.partner.id
    assert Subscription.objects.get(user=bob).status == Subscription.Status.CANCELLED


@pytest.mark.django_db
def test_reversing_twice_refunds_once_and_answers_the_same(api_client):
    # given
    bob, credentials, txn = _activated(api_client, reference="RV-2", phone="+33630000002")
    now = int(time.time())
    first = post_signed(api_client, credentials, b"", path=reverse_path("RV-2"), timestamp=now)

    # when: a retry, signed anew
    again = post_signed(api_client, credentials, b"", path=reverse_path("RV-2"), timestamp=now - 1)

    # then
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Transaction.objects.filter(reverses=txn).count() == 1
    assert assert_ledger_matches_balance(bob) == Decimal("50.00")


@pytest.mark.django_db
def test_another_partners_reference_is_the_same_404_as_a_made_up_one(api_client):
    # given: Q's settled activation; P is another partner (even linked to the same customer)
    bob, q, txn = _activated(api_client, reference="Q-RV", phone="+33630000003")
    p = partner(customers=[bob])

    # when
    foreign = post_signed(api_client, p, b"", path=reverse_path("Q-RV"))
    missing = post_signed(api_client, p, b"", path=reverse_path("NO-SUCH-REF"))

    # then: byte-identical 404s, and nothing moved
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert foreign.json() == NOT_FOUND
    txn.refresh_from_db()
    assert txn.status == "SUCCEEDED" and not Transaction.objects.filter(reverses=txn).exists()
    assert assert_ledger_matches_balance(bob) == Decimal("38.00")


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["pending", "failed"])
def test_a_transaction_that_did_not_succeed_is_409(api_client, case):
    # given: a pending activation, or one that failed (bob cannot pay 99.00)
    bob, credentials, txn = _activated(api_client, reference="RV-4", phone="+33630000004",
                                       price="99.00" if case == "failed" else "12.00", settle=case == "failed")

    # when
    response = post_signed(api_client, credentials, b"", path=reverse_path("RV-4"))

    # then
    assert response.status_code == 409
    assert set(response.json()) == {"code", "message", "details"}
    txn.refresh_from_db()
    assert txn.status == ("FAILED" if case == "failed" else "PENDING")
    assert not Transaction.objects.filter(reverses=txn).exists()


@pytest.mark.django_db
def test_unlinking_the_customer_does_not_stop_the_partner_reversing_its_past_activation(api_client):
    # given
    bob, credentials, _ = _activated(api_client, reference="RV-5", phone="+33630000005")
    partner_customer_unlink(partner=credentials.partner, customer=bob)

    # when
    response = post_signed(api_client, credentials, b"", path=reverse_path("RV-5"))

    # then
    assert response.status_code == 200 and response.json()["status"] == "REVERSED"
    assert assert_ledger_matches_balance(bob) == Decimal("50.00")


@pytest.mark.django_db
def test_a_reversal_records_one_reversed_event_for_the_original_and_none_for_the_reversal(
        api_client, django_capture_on_commit_callbacks, monkeypatch):
    # given: deliveries are recorded but not sent (no broker message from an in-process test);
    # the activation's succeeded event already handed over by the outbox's drain
    enqueued = []
    monkeypatch.setattr(services.callback_outbox, "enqueue", lambda pk, countdown=0: enqueued.append(pk))
    _, credentials, txn = _activated(api_client, reference="RV-6", phone="+33630000006",
                                     callback_url="http://127.0.0.1:9/hook")
    with django_capture_on_commit_callbacks(execute=True):
        finished_outbox_drain()
    [succeeded] = CallbackDelivery.objects.filter(transaction=txn)

    # when: the reversal commits (outbox: [original REVERSED, reversal SUCCEEDED]) and the
    # outbox is drained
    response = post_signed(api_client, credentials, b"", path=reverse_path("RV-6"))
    with django_capture_on_commit_callbacks(execute=True):
        finished_outbox_drain()
    reversal = Transaction.objects.get(reverses=txn)
    again = partner_callback_schedule(transaction=Transaction.objects.get(pk=txn.pk))  # handed over twice

    # then
    assert response.status_code == 200
    delivery = CallbackDelivery.objects.get(transaction=txn, event_type="transaction.reversed")
    assert succeeded.event_type == "transaction.succeeded" and again.id == delivery.id
    assert (delivery.payload["data"]["status"], delivery.payload["data"]["is_valid"]) == ("REVERSED", False)
    assert CallbackDelivery.objects.filter(transaction=txn).count() == 2
    assert not CallbackDelivery.objects.filter(transaction=reversal).exists()
    assert enqueued == [succeeded.id, delivery.id]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_partner_receives_the_reversed_event_through_the_live_stack(live_stack):
    # given: an activation settled by the real worker, its succeeded event delivered
    web, _ = live_stack
    server = CallbackServer()
    server.start()
    try:
        bob = customer(balance="30.00", phone="+33630000007")
        credentials = partner(callback_url=server.url, customers=[bob])
        body = body_of({"reference": "RV-7", "customer": "+33630000007", "offer_id": OfferFactory().id})
        accepted = requests.post(f"{web.url}{ACTIVATE}", data=body,
                                 headers=signed_headers(credentials, "POST", ACTIVATE, body)).json()
        wait_until_terminal([accepted["transaction_id"]])
        server.wait_for(1)

        # when
        path = reverse_path("RV-7")
        response = requests.post(f"{web.url}{path}", data=b"", headers=signed_headers(credentials, "POST", path))

        # then: a second, signed event, transaction.reversed, for the same transaction
        assert response.status_code == 200, response.text
        received = server.wait_for(2)
        events = [json.loads(r.body) for r in received]
        assert [e["type"] for e in events] == ["transaction.succeeded", "transaction.reversed"]
        assert events[1]["data"]["transaction_id"] == accepted["transaction_id"]
        assert (events[1]["data"]["status"], events[1]["data"]["is_valid"]) == ("REVERSED", False)
        headers = received[1].headers
        assert headers["X-Partner-Signature"] == sign(credentials.secret, "POST", "/hooks/offers?v=1",
                                                      headers["X-Partner-Timestamp"], received[1].body)
        time.sleep(1.0)  # room for a (wrong) extra event to show up
        assert len(server.received) == 2
        assert CallbackDelivery.objects.filter(transaction_id=accepted["transaction_id"]).count() == 2
        assert assert_ledger_matches_balance(bob) == Decimal("30.00")
    finally:
        server.stop()
