"""Adversarial: reversals of activations/renewals against a subscription's later history."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.models import Subscription
from offers.services import KIND_OFFER_ACTIVATION, KIND_OFFER_RENEWAL
from tests.factories import OfferFactory, customer


def settle(txn) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def activation(user, offer) -> Transaction:
    txn = settle(Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, amount=offer.price,
                                            currency=offer.currency, payload={"offer_id": offer.id}))
    assert txn.status == "SUCCEEDED", txn.failure_code
    return txn


def renewal(user, offer, subscription_id) -> Transaction:
    return settle(Transaction.objects.create(kind=KIND_OFFER_RENEWAL, user=user, amount=offer.price,
                                             currency=offer.currency,
                                             payload={"subscription_id": subscription_id, "offer_id": offer.id}))


def staff_reverse(txn) -> Transaction:
    staff = customer(is_staff=True)
    return transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id, as_staff=True)


def lapse(subscription_id, days_ago: int) -> None:
    """What time does to a subscription: its period ended `days_ago` days ago and the beat
    expired it (offers.subscriptions.subscriptions_expire)."""
    Subscription.objects.filter(pk=subscription_id).update(status="expired",
                                                           expires_at=timezone.now() - timedelta(days=days_ago))


@pytest.mark.django_db
def test_reversing_a_used_up_activation_does_not_take_away_a_later_paid_renewal():
    # given: an activation whose month ran out long ago; the customer then renewed (paid 20.00)
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("20.00"), validity_days=30)
    first = activation(user, offer)
    subscription_id = first.result["subscription_id"]
    lapse(subscription_id, days_ago=10)
    renewed = renewal(user, offer, subscription_id)
    assert renewed.status == "SUCCEEDED"
    paid_until = Subscription.objects.get(pk=subscription_id).expires_at

    # when: staff refund the old activation (not the renewal)
    staff_reverse(first)

    # then: the renewal, still charged, still buys its month
    subscription = Subscription.objects.get(pk=subscription_id)
    assert Transaction.objects.get(pk=renewed.id).status == "SUCCEEDED"
    assert subscription.status == "active", (
        f"renewal {renewed.id} is charged ({renewed.result['amount_charged']}) and not reversed, but the "
        f"subscription is {subscription.status} until {subscription.expires_at} (was paid until {paid_until})")


@pytest.mark.django_db
def test_renewing_an_expired_subscription_while_the_offer_was_bought_again_is_a_refusal_not_a_crash():
    # given: S1 expired, then the customer bought the offer again (a new active S2)
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("20.00"))
    first = activation(user, offer)
    lapse(first.result["subscription_id"], days_ago=1)
    second = activation(user, offer)
    assert second.result["subscription_id"] != first.result["subscription_id"]

    # when: the customer renews the old S1
    renewed = renewal(user, offer, first.result["subscription_id"])

    # then: a decided refusal, nothing charged
    assert renewed.status in ("FAILED", "SUCCEEDED"), f"left {renewed.status}: the settlement raised"
    assert Account.objects.get(user=user).balance == Decimal("60.00") - (
        Decimal("20.00") if renewed.status == "SUCCEEDED" else 0)
