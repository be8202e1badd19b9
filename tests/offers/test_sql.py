"""offers/sql.py reads and writes what the ORM would, and the one subscription-extension rule
(SUBSCRIPTION_EXTENDED_END_SQL) is what every path that moves a subscription's end obeys: an
activation through the API, a renewal through the API, and their reversals."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.models import Offer, Subscription
from offers.services import KIND_OFFER_ACTIVATION, offer_period
from offers.sql import (offers_read, subscription_end_extended, subscription_extend_or_create_returning,
                        subscription_extend_returning)
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db


def _fields(instance, *, leave_out=()) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields
            if field.attname not in leave_out}


def _transaction(user, offer) -> Transaction:
    return Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, amount=offer.price,
                                      currency=offer.currency, payload={"offer_id": offer.id})


def test_offers_read_loads_what_the_orm_loads():
    # given
    offers = [OfferFactory(), OfferFactory(price=Decimal("3.10"), is_active=False)]
    ids = [offer.id for offer in offers]

    # when
    read = {offer.id: offer for offer in offers_read(ids + [max(ids) + 1000])}

    # then: the same offers, field for field and type for type, none for an id without one
    orm = {offer.id: offer for offer in Offer.objects.filter(pk__in=ids)}
    assert read.keys() == orm.keys()
    for pk, offer in orm.items():
        assert _fields(read[pk]) == _fields(offer)
        assert [type(v) for v in _fields(read[pk]).values()] == [type(v) for v in _fields(offer).values()]


def test_a_subscription_created_by_the_upsert_is_the_row_the_orm_would_create():
    # given
    user, offer = customer(), OfferFactory(validity_days=30)
    twin_user = customer()
    txn, twin_txn = _transaction(user, offer), _transaction(twin_user, offer)
    now, period = timezone.now(), timedelta(days=30)

    # when: one created by the statement, one by the ORM
    created = subscription_extend_or_create_returning(user_id=user.id, offer=offer, period=period,
                                                      transaction_id=txn.id, now=now)
    orm = Subscription.objects.create(user=twin_user, offer=offer, status=Subscription.Status.ACTIVE,
                                      started_at=now, expires_at=now + period, auto_renew=False,
                                      created_by_transaction=twin_txn)

    # then: the same row, but for who and what made it; the instance returned is the row stored
    stored = Subscription.objects.get(pk=created.pk)
    leave_out = ("id", "user_id", "created_by_transaction_id", "updated_at")
    assert _fields(stored, leave_out=leave_out) == _fields(orm, leave_out=leave_out)
    assert (stored.user_id, stored.created_by_transaction_id, stored.updated_at) == (user.id, txn.id, now)
    assert _fields(created) == _fields(stored)
    assert created._state.adding is False and created._state.db == "default" and created.offer is offer


def test_the_upsert_extends_the_active_subscription_and_the_renewal_any_subscription_by_the_rule():
    # given: an active subscription ending in 3 days, and an expired one that ended 3 days ago
    user, offer = customer(), OfferFactory(validity_days=30)
    now, period = timezone.now(), timedelta(days=30)
    active = Subscription.objects.create(user=user, offer=offer, started_at=now - timedelta(days=27),
                                         expires_at=now + timedelta(days=3))
    other = OfferFactory(validity_days=7)
    expired = Subscription.objects.create(user=user, offer=other, status=Subscription.Status.EXPIRED,
                                          started_at=now - timedelta(days=10), expires_at=now - timedelta(days=3))

    # when
    extended = subscription_extend_or_create_returning(user_id=user.id, offer=offer, period=period,
                                                       transaction_id=_transaction(user, offer).id, now=now)
    renewed_end = subscription_extend_returning(subscription_id=expired.id, period=timedelta(days=7), now=now)

    # then: the active one moved by a period from its end, the expired one runs a period from now again
    assert extended.pk == active.pk
    assert extended.expires_at == Subscription.objects.get(pk=active.pk).expires_at == active.expires_at + period
    expired.refresh_from_db()
    assert renewed_end == expired.expires_at == now + timedelta(days=7)
    assert (expired.status, expired.updated_at) == ("active", now)


def test_the_rule_adds_a_period_to_the_later_of_the_end_and_now():
    now, period = timezone.now(), timedelta(days=30)
    assert subscription_end_extended(end=now + timedelta(days=2), period=period, now=now) == now + timedelta(days=32)
    assert subscription_end_extended(end=now - timedelta(days=2), period=period, now=now) == now + period


def _activate(api_client, user, offer) -> Transaction:
    response = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202, response.content
    transactions_settle(transaction_id=response.json()["transaction_id"])
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert txn.status == "SUCCEEDED", (txn.failure_code, txn.failure_message)
    return txn


def _renew(api_client, user, subscription) -> Transaction:
    response = api_client.post("/api/v1/offers/renew/", {"subscription_id": subscription.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202, response.content
    transactions_settle(transaction_id=response.json()["transaction_id"])
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert txn.status == "SUCCEEDED", (txn.failure_code, txn.failure_message)
    return txn


def _reverse(txn: Transaction) -> Transaction:
    reversal = transaction_reverse(transaction_id=txn.id, requested_by_id=customer(is_staff=True).id, as_staff=True)
    assert reversal.status == "SUCCEEDED", (reversal.failure_code, reversal.failure_message)
    return reversal


def _end_by_the_rule_within(end, period, before, after, actual) -> bool:
    """`actual` is where the rule puts `end` extended by `period` at some moment in [before, after]."""
    return (subscription_end_extended(end=end, period=period, now=before) <= actual
            <= subscription_end_extended(end=end, period=period, now=after))


def test_purchase_renewal_and_reversal_through_the_api_agree_with_the_rule(api_client):
    # given: a customer who has an offer ending in 5 days
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("10.00"), validity_days=30)
    period, now = offer_period(offer), timezone.now()
    subscription = Subscription.objects.create(user=user, offer=offer, started_at=now - timedelta(days=25),
                                               expires_at=now + timedelta(days=5))
    end = subscription.expires_at

    # when: bought again through the API
    before = timezone.now()
    purchase = _activate(api_client, user, offer)
    after = timezone.now()

    # then: extended by the rule
    subscription.refresh_from_db()
    assert purchase.result["subscription_id"] == subscription.id
    assert _end_by_the_rule_within(end, period, before, after, subscription.expires_at)
    assert purchase.result["expires_at"] == subscription.expires_at.isoformat()
    end = subscription.expires_at

    # when: renewed through the API
    before = timezone.now()
    renewal = _renew(api_client, user, subscription)
    after = timezone.now()

    # then: extended by the rule again
    subscription.refresh_from_db()
    assert _end_by_the_rule_within(end, period, before, after, subscription.expires_at)
    assert renewal.result["expires_at"] == subscription.expires_at.isoformat()

    # when: both reversed
    _reverse(renewal)
    subscription.refresh_from_db()
    assert subscription.expires_at == end
    _reverse(purchase)

    # then: each took back exactly the period the rule had added
    subscription.refresh_from_db()
    assert (subscription.status, subscription.expires_at) == ("active", now + timedelta(days=5))


def test_a_purchase_of_a_lapsed_but_still_active_subscription_runs_a_period_from_now(api_client):
    # given: an active subscription whose end has passed (the expiry job has not run yet)
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("10.00"), validity_days=30)
    subscription = Subscription.objects.create(user=user, offer=offer, started_at=timezone.now() - timedelta(days=31),
                                               expires_at=timezone.now() - timedelta(days=1))
    end = subscription.expires_at

    # when
    before = timezone.now()
    _activate(api_client, user, offer)
    after = timezone.now()

    # then: a period from the moment of settlement, by the rule
    subscription.refresh_from_db()
    assert before + offer_period(offer) <= subscription.expires_at <= after + offer_period(offer)
    assert _end_by_the_rule_within(end, offer_period(offer), before, after, subscription.expires_at)
