from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.models import Offer, Subscription
from tests.factories import OfferFactory, bearer, customer
from tests.helpers import assert_ledger_matches_balance

pytestmark = pytest.mark.django_db


def test_offers_are_listed_filtered_and_paginated(api_client):
    user = customer()
    OfferFactory.create_batch(3, category=Offer.Category.TV)
    OfferFactory(category=Offer.Category.MOBILE)
    OfferFactory(category=Offer.Category.TV, is_active=False)
    response = api_client.get("/api/v1/offers/?category=tv&page_size=2", HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 200
    assert response.json()["count"] == 3 and len(response.json()["results"]) == 2


def test_expiring_lists_only_my_subscriptions_within_the_window(api_client):
    user, other = customer(), customer()
    now = timezone.now()
    soon = Subscription.objects.create(user=user, offer=OfferFactory(), started_at=now, expires_at=now + timedelta(days=3))
    Subscription.objects.create(user=user, offer=OfferFactory(), started_at=now, expires_at=now + timedelta(days=20))
    Subscription.objects.create(user=other, offer=OfferFactory(), started_at=now, expires_at=now + timedelta(days=2))
    response = api_client.get("/api/v1/offers/expiring/", HTTP_AUTHORIZATION=bearer(user))
    assert [s["id"] for s in response.json()["results"]] == [soon.id]
    response = api_client.get("/api/v1/offers/expiring/?days=30", HTTP_AUTHORIZATION=bearer(user))
    assert response.json()["count"] == 2


def test_renewal_goes_through_the_pipeline_and_extends_the_subscription(api_client):
    # given
    user = customer(balance="25.00")
    offer = OfferFactory(price=Decimal("10.00"), validity_days=30)
    now = timezone.now()
    subscription = Subscription.objects.create(user=user, offer=offer, started_at=now - timedelta(days=28),
                                               expires_at=now + timedelta(days=2))

    # when
    response = api_client.post("/api/v1/offers/renew/", {"subscription_id": subscription.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))
    transactions_settle(transaction_id=response.json()["transaction_id"])

    # then
    assert response.status_code == 202
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert (txn.kind, txn.status) == ("offer_renewal", "SUCCEEDED")
    subscription.refresh_from_db()
    assert subscription.expires_at - (now + timedelta(days=2)) == timedelta(days=30)
    assert assert_ledger_matches_balance(user) == Decimal("15.00")


def test_activating_an_offer_i_already_have_extends_it(api_client):
    user = customer(balance="25.00")
    offer = OfferFactory(price=Decimal("10.00"), validity_days=30)
    for _ in range(2):
        response = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                                   HTTP_AUTHORIZATION=bearer(user))
        transactions_settle(transaction_id=response.json()["transaction_id"])
    subscription = Subscription.objects.get(user=user)
    assert (subscription.expires_at - subscription.started_at).days == 60
    listed = api_client.get("/api/v1/account/subscriptions/", HTTP_AUTHORIZATION=bearer(user)).json()
    assert listed["count"] == 1
