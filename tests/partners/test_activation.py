"""Partner activation by reference (in-process; settlement run by hand) and validation."""
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import LedgerEntry
from activation.models import IdempotencyKey, Transaction
from activation.services import idempotency_keys_prune, transactions_settle
from offers.models import Subscription
from partners.models import PartnerActivation
from tests.factories import OfferFactory, customer
from tests.helpers import assert_ledger_matches_balance
from tests.partners.signing import get_signed, partner, post_signed, validate_path

pytestmark = pytest.mark.django_db


def test_a_partner_activation_settles_like_a_customer_activation(api_client):
    # given
    bob = customer(balance="50.00", email="bob@example.com")
    offer = OfferFactory(price=Decimal("12.50"))
    credentials = partner(customers=[bob])

    # when
    response = post_signed(api_client, credentials, {"reference": "till-42", "customer": "BOB@example.com",
                                                     "offer_id": offer.id})
    transactions_settle(transaction_id=response.json()["transaction_id"])

    # then: the customer's balance is debited and the partner's reference recorded
    assert response.status_code == 202
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert (txn.status, txn.user, txn.amount) == ("SUCCEEDED", bob, Decimal("12.50"))
    assert assert_ledger_matches_balance(bob) == Decimal("37.50")
    assert Subscription.objects.get(user=bob).offer == offer
    record = PartnerActivation.objects.get(reference="till-42")
    assert record.partner == credentials.partner and record.transaction == txn


def test_the_same_reference_and_body_returns_the_same_transaction_and_debits_once(api_client):
    # given
    alice = customer(balance="50.00", phone="+33611111111")
    offer = OfferFactory(price=Decimal("10.00"))
    credentials = partner(customers=[alice])
    body = {"reference": "R-1", "customer": "+33611111111", "offer_id": offer.id}
    now = int(time.time())
    first = post_signed(api_client, credentials, body, timestamp=now)
    transactions_settle(transaction_id=first.json()["transaction_id"])

    # when: a retry, signed anew (a signature is good once)
    again = post_signed(api_client, credentials, body, timestamp=now - 1)

    # then
    assert again.status_code == 202
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert again.json()["status"] == "SUCCEEDED"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Transaction.objects.count() == 1
    assert LedgerEntry.objects.filter(account__user=alice, reason="debit").count() == 1
    assert assert_ledger_matches_balance(alice) == Decimal("40.00")


def test_the_same_reference_with_another_body_is_422(api_client):
    # given
    carol = customer(balance="50.00", phone="+33622222222")
    offer, other_offer = OfferFactory(), OfferFactory()
    credentials = partner(customers=[carol])
    post_signed(api_client, credentials, {"reference": "R-2", "customer": "+33622222222", "offer_id": offer.id})

    # when
    response = post_signed(api_client, credentials,
                           {"reference": "R-2", "customer": "+33622222222", "offer_id": other_offer.id})

    # then
    assert response.status_code == 422
    assert response.json()["code"] == "reference_reused"
    assert Transaction.objects.count() == 1


def test_the_reference_stays_unique_after_idempotency_keys_are_pruned(api_client):
    # given: the beat prune has run past the retention period (48 h)
    dave = customer(balance="50.00", phone="+33633333333")
    offer = OfferFactory()
    credentials = partner(customers=[dave])
    body = {"reference": "R-3", "customer": "+33633333333", "offer_id": offer.id}
    now = int(time.time())
    first = post_signed(api_client, credentials, body, timestamp=now)
    retention = timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    IdempotencyKey.objects.update(created_at=timezone.now() - retention - timedelta(days=30))
    idempotency_keys_prune()

    # when: a retry, signed anew (a signature is good once)
    again = post_signed(api_client, credentials, body, timestamp=now - 1)
    other = post_signed(api_client, credentials, {**body, "offer_id": OfferFactory().id}, timestamp=now - 2)

    # then
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json() == {"code": "reference_reused", "details": {},
                            "message": "This reference was already used with a different request body."}
    assert Transaction.objects.count() == 1


def test_a_reference_whose_key_was_deleted_by_hand_is_still_refused(api_client):
    # given: the engine's key for the reference removed behind its back (the prune never does)
    frank = customer(balance="50.00", phone="+33655555555")
    offer = OfferFactory()
    credentials = partner(customers=[frank])
    body = {"reference": "R-4", "customer": "+33655555555", "offer_id": offer.id}
    now = int(time.time())
    post_signed(api_client, credentials, body, timestamp=now)
    IdempotencyKey.objects.all().delete()

    # when
    again = post_signed(api_client, credentials, body, timestamp=now - 1)

    # then: PartnerActivation's unique (partner, reference) refuses it; nothing new written
    assert again.status_code == 422
    assert again.json()["code"] == "reference_reused"
    assert Transaction.objects.count() == 1 and IdempotencyKey.objects.count() == 0


def test_two_partners_may_use_the_same_reference(api_client):
    # given
    erin = customer(balance="50.00", phone="+33644444444")
    offer = OfferFactory()
    body = {"reference": "SHARED", "customer": "+33644444444", "offer_id": offer.id}

    # when
    first = post_signed(api_client, partner(customers=[erin]), body)
    second = post_signed(api_client, partner(customers=[erin]), body)

    # then
    assert first.status_code == second.status_code == 202
    assert first.json()["transaction_id"] != second.json()["transaction_id"]


def test_a_partner_validates_its_own_reference(api_client):
    # given
    frank = customer(balance="50.00", phone="+33655555555")
    offer = OfferFactory(price=Decimal("9.99"))
    credentials = partner(customers=[frank])
    accepted = post_signed(api_client, credentials, {"reference": "V-1", "customer": "+33655555555",
                                                     "offer_id": offer.id}).json()
    transactions_settle(transaction_id=accepted["transaction_id"])

    # when
    response = get_signed(api_client, credentials, validate_path("V-1"))

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == "V-1" and body["transaction_id"] == accepted["transaction_id"]
    assert (body["status"], body["is_valid"], body["failure_code"]) == ("SUCCEEDED", True, "")
    assert body["offer"]["id"] == offer.id and body["amount"] == "9.99"
    assert body["customer"] == "+33655555555"
    assert body["created_at"] and body["settled_at"]


def test_a_failed_activation_validates_as_not_valid(api_client):
    # given: a customer who cannot pay
    grace = customer(balance="1.00", phone="+33666666666")
    credentials = partner(customers=[grace])
    accepted = post_signed(api_client, credentials, {"reference": "V-2", "customer": "+33666666666",
                                                     "offer_id": OfferFactory().id}).json()
    transactions_settle(transaction_id=accepted["transaction_id"])

    # when
    body = get_signed(api_client, credentials, validate_path("V-2")).json()

    # then
    assert (body["status"], body["is_valid"], body["failure_code"]) == ("FAILED", False, "insufficient_balance")


def test_a_partner_cannot_see_another_partners_reference(api_client):
    # given: Q's reference
    heidi = customer(balance="50.00", phone="+33677777777")
    p, q = partner(), partner(customers=[heidi])
    post_signed(api_client, q, {"reference": "Q-REF", "customer": "+33677777777", "offer_id": OfferFactory().id})

    # when
    foreign = get_signed(api_client, p, validate_path("Q-REF"))
    missing = get_signed(api_client, p, validate_path("NO-SUCH-REF"))

    # then: both are the same 404, byte for byte
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert foreign.json() == {"code": "not_found", "message": "No transaction with this reference.", "details": {}}
    assert get_signed(api_client, q, validate_path("Q-REF")).status_code == 200
