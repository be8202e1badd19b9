"""account/subscriptions/{id}/ (auto_renew) and cancel/: the owner's alone (another's is a
404 and nothing changes); a cancelled subscription is never renewed; no refund."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.models import Subscription
from offers.subscriptions import (SubscriptionNotFound, subscription_auto_renew_set, subscription_cancel,
                                  subscriptions_auto_renew_due)
from tests.factories import OfferFactory, bearer, customer
from tests.helpers import assert_ledger_matches_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return customer(balance="50.00")


@pytest.fixture
def subscription(alice):
    now = timezone.now()
    return Subscription.objects.create(user=alice, offer=OfferFactory(price=Decimal("10.00")), started_at=now,
                                       expires_at=now + timedelta(hours=2))


def row(subscription) -> tuple:
    subscription.refresh_from_db()
    return subscription.status, subscription.auto_renew, subscription.expires_at


def test_the_owner_reads_and_turns_auto_renew_on_and_off(api_client, alice, subscription):
    # given
    auth = {"HTTP_AUTHORIZATION": bearer(alice)}
    url = f"/api/v1/account/subscriptions/{subscription.id}/"

    # when
    detail = api_client.get(url, **auth)
    on = api_client.patch(url, {"auto_renew": True}, format="json", **auth)
    due = subscriptions_auto_renew_due()
    off = api_client.patch(url, {"auto_renew": False}, format="json", **auth)
    bad = api_client.patch(url, {"auto_renew": True, "status": "active"}, format="json", **auth)

    # then
    assert detail.status_code == 200 and detail.json()["id"] == subscription.id
    assert on.status_code == 200 and on.json()["auto_renew"] is True
    assert [d.subscription_id for d in due] == [subscription.id]  # auto-renew now asks for its renewal
    assert off.status_code == 200 and row(subscription)[1] is False
    assert bad.status_code == 400 and "status" in bad.json()["details"]


@pytest.mark.parametrize("method,suffix,body", [("get", "", None), ("patch", "", {"auto_renew": True}),
                                                 ("patch", "", {}), ("post", "cancel/", {})])
def test_another_customers_subscription_is_404_and_unchanged(api_client, subscription, method, suffix, body):
    # given
    bob = customer()
    before = row(subscription)

    # when
    response = getattr(api_client, method)(f"/api/v1/account/subscriptions/{subscription.id}/{suffix}",
                                           *([body] if body is not None else []), format="json",
                                           HTTP_AUTHORIZATION=bearer(bob))

    # then
    assert response.status_code == 404 and set(response.json()) == {"code", "message", "details"}
    assert row(subscription) == before


def test_cancel_ends_it_without_a_refund_and_it_can_never_be_renewed(api_client, alice, subscription):
    # given
    auth = {"HTTP_AUTHORIZATION": bearer(alice)}
    api_client.patch(f"/api/v1/account/subscriptions/{subscription.id}/", {"auto_renew": True}, format="json",
                     **auth)
    balance = assert_ledger_matches_balance(alice)

    # when
    cancelled = api_client.post(f"/api/v1/account/subscriptions/{subscription.id}/cancel/", format="json", **auth)
    again = api_client.post(f"/api/v1/account/subscriptions/{subscription.id}/cancel/", {}, format="json", **auth)
    auto_renew = api_client.patch(f"/api/v1/account/subscriptions/{subscription.id}/", {"auto_renew": True},
                                  format="json", **auth)
    renewal = api_client.post("/api/v1/offers/renew/", {"subscription_id": subscription.id}, format="json", **auth)
    transactions_settle(transaction_id=renewal.json()["transaction_id"], batch_size=1)

    # then
    assert cancelled.status_code == 200 and (cancelled.json()["status"], cancelled.json()["auto_renew"]) == (
        "cancelled", False)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert auto_renew.status_code == 409 and auto_renew.json()["code"] == "subscription_not_renewable"
    txn = Transaction.objects.get(pk=renewal.json()["transaction_id"])
    assert (txn.status, txn.failure_code) == ("FAILED", "subscription_not_renewable")
    assert subscriptions_auto_renew_due() == []
    assert row(subscription)[:2] == ("cancelled", False)
    assert assert_ledger_matches_balance(alice) == balance  # no refund, no charge


def test_cancel_takes_no_body(api_client, alice, subscription):
    response = api_client.post(f"/api/v1/account/subscriptions/{subscription.id}/cancel/", {"refund": True},
                               format="json", HTTP_AUTHORIZATION=bearer(alice))
    assert response.status_code == 400 and "refund" in response.json()["details"]
    assert row(subscription)[0] == "active"


@pytest.mark.parametrize("service", ["cancel", "auto_renew"])
def test_the_services_refuse_another_customers_subscription_whoever_calls_them(subscription, service):
    # given
    bob = customer()
    before = row(subscription)

    # when / then
    with pytest.raises(SubscriptionNotFound):
        if service == "cancel":
            subscription_cancel(user_id=bob.id, subscription_id=subscription.id)
        else:
            subscription_auto_renew_set(user_id=bob.id, subscription_id=subscription.id, auto_renew=True)
    assert row(subscription) == before
