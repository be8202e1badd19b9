"""Reminders 7/3/1 days before the end, expiry, and auto-renewal through the pipeline."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from activation.services import finished_outbox_drain
from notifications.events import subscription_reminders_send, subscriptions_expired_notify
from notifications.models import Notification
from offers.models import Subscription
from offers.subscriptions import subscriptions_auto_renew_due, subscriptions_expire
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


def subscription(user, *, ends_in: timedelta, auto_renew: bool = False, price: str = "10.00") -> Subscription:
    now = timezone.now()
    return Subscription.objects.create(user=user, offer=OfferFactory(name="Mobile XL", price=Decimal(price)),
                                       started_at=now - timedelta(days=20), expires_at=now + ends_in,
                                       auto_renew=auto_renew)


def kinds(user, channel="email"):
    return list(Notification.objects.filter(user=user, channel=channel).order_by("id")
                .values_list("kind", "data__days"))


def test_reminders_go_out_7_3_and_1_days_before_the_end_once_each():
    # given: a subscription ending in 6.5 days; beat runs every few hours for a week
    gina = customer(username="gina")
    sub = subscription(gina, ends_in=timedelta(days=6, hours=12))
    start = timezone.now()

    # when
    for hours in range(0, 6 * 24 + 12, 3):
        subscription_reminders_send(now=start + timedelta(hours=hours))

    # then
    assert kinds(gina) == [("subscription_expiring", 7), ("subscription_expiring", 3), ("subscription_expiring", 1)]
    assert kinds(gina, "in_app") == kinds(gina)
    one_day = Notification.objects.get(user=gina, channel="email", data__days=1)
    assert one_day.subject == "Your Mobile XL ends in 1 day"
    assert sub.expires_at.astimezone(timezone.get_default_timezone()).strftime("%d %b %Y") in one_day.body


def test_an_expired_subscription_is_marked_expired_and_notified_once():
    # given
    hank = customer(username="hank")
    sub = subscription(hank, ends_in=timedelta(minutes=-5))
    running = subscription(customer(username="ivy"), ends_in=timedelta(days=2))

    # when
    expired = subscriptions_expire()
    subscriptions_expired_notify()
    again = subscriptions_expire()
    subscriptions_expired_notify()

    # then
    sub.refresh_from_db()
    running.refresh_from_db()
    assert expired == [sub.id] and again == []
    assert sub.status == "expired" and running.status == "active"
    assert kinds(hank) == [("subscription_expired", None)]
    assert Notification.objects.get(user=hank, channel="in_app").subject == "Your Mobile XL has expired"


def settle_and_notify(transaction_id) -> Transaction:
    transactions_settle(transaction_id=transaction_id, batch_size=1)
    finished_outbox_drain()
    return Transaction.objects.get(pk=transaction_id)


def test_auto_renew_with_enough_balance_renews_once_through_the_pipeline():
    # given: ends in 12 hours (auto-renewal is requested 24 h before)
    jack = customer(username="jack", balance="25.00")
    sub = subscription(jack, ends_in=timedelta(hours=12), auto_renew=True, price="10.00")
    old_end = sub.expires_at

    # when: beat runs twice before the renewal settles, then once after
    first = subscriptions_auto_renew_due()
    second = subscriptions_auto_renew_due()
    txn = settle_and_notify(first[0].transaction_id)
    third = subscriptions_auto_renew_due()

    # then
    sub.refresh_from_db()
    assert first[0].transaction_id == second[0].transaction_id and third == []
    assert Transaction.objects.filter(kind="offer_renewal", user=jack).count() == 1
    assert txn.status == "SUCCEEDED" and sub.status == "active"
    assert sub.expires_at == old_end + timedelta(days=30)
    jack.account.refresh_from_db()
    assert jack.account.balance == Decimal("15.00")
    assert kinds(jack) == [("renewal_succeeded", None)]


def test_auto_renew_without_balance_fails_cleanly_notifies_and_lets_it_expire():
    # given
    kate = customer(username="kate", balance="3.00")
    sub = subscription(kate, ends_in=timedelta(hours=12), auto_renew=True, price="10.00")

    # when
    (requested,) = subscriptions_auto_renew_due()
    txn = settle_and_notify(requested.transaction_id)
    replay = subscriptions_auto_renew_due()
    subscriptions_expire(now=sub.expires_at + timedelta(minutes=1))
    subscriptions_expired_notify(now=sub.expires_at + timedelta(minutes=1))

    # then
    sub.refresh_from_db()
    kate.account.refresh_from_db()
    assert txn.status == "FAILED" and txn.failure_code == "insufficient_balance"
    assert replay[0].transaction_id == requested.transaction_id  # the same period is never renewed twice
    assert kate.account.balance == Decimal("3.00") and sub.status == "expired"
    assert kinds(kate) == [("renewal_failed", None), ("subscription_expired", None)]
    failed = Notification.objects.get(user=kate, channel="email", kind="renewal_failed")
    assert "because your account balance does not cover the price" in failed.body
