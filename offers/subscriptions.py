"""Subscription lifecycle rules run by beat: expiring subscriptions past their end and
requesting auto-renewals through the transaction pipeline shortly before the end."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction as db_transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.locks import account_for_update
from kernel.errors import ConflictError, IdempotencyInProgress, IdempotencyKeyReused, NotFound
from offers.models import Subscription
from offers.services import offer_renewal_request

logger = logging.getLogger(__name__)


def subscription_list_expiring_between(*, start: datetime, end: datetime) -> QuerySet[Subscription]:
    """Active subscriptions ending in (start, end]."""
    return (Subscription.objects.filter(status=Subscription.Status.ACTIVE, expires_at__gt=start, expires_at__lte=end)
            .select_related("offer", "user").order_by("pk"))


def subscription_list_expired_since(*, since: datetime) -> QuerySet[Subscription]:
    return (Subscription.objects.filter(status=Subscription.Status.EXPIRED, expires_at__gt=since)
            .select_related("offer", "user").order_by("pk"))


def subscriptions_expire(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Marks active subscriptions past their end `expired`. Each one under its owner's
    account lock (which serialises everything that changes a subscription, so a renewal
    settling at the same moment either wins and moves `expires_at`, or sees it expired)."""
    now = now or timezone.now()
    due = list(Subscription.objects.filter(status=Subscription.Status.ACTIVE, expires_at__lte=now)
               .order_by("pk").values_list("pk", "user_id")[:limit])
    expired = []
    for subscription_id, user_id in due:
        with db_transaction.atomic():
            account_for_update().filter(user_id=user_id).first()
            if Subscription.objects.filter(pk=subscription_id, status=Subscription.Status.ACTIVE,
                                           expires_at__lte=now).update(status=Subscription.Status.EXPIRED,
                                                                       updated_at=now):
                expired.append(subscription_id)
    return expired


def subscription_auto_renew_key(subscription: Subscription) -> str:
    """One renewal per subscription period: a beat re-run replays the same transaction."""
    return f"auto-renew:{subscription.id}:{subscription.expires_at.date().isoformat()}"


@dataclass(frozen=True)
class AutoRenewRequested:
    subscription_id: int
    transaction_id: str


def subscriptions_auto_renew_due(*, now: datetime | None = None) -> list[AutoRenewRequested]:
    """Requests a renewal transaction for every auto-renewing subscription ending within
    AUTO_RENEW_LEAD_HOURS. Settlement decides (balance, offer still active); a failure is
    notified like any failed renewal and the subscription then expires."""
    now = now or timezone.now()
    due = subscription_list_expiring_between(start=now, end=now + timedelta(hours=settings.AUTO_RENEW_LEAD_HOURS))
    requested = []
    for subscription in due.filter(auto_renew=True):
        try:
            accepted = offer_renewal_request(user_id=subscription.user_id, subscription=subscription,
                                             idempotency_key=subscription_auto_renew_key(subscription))
        except (IdempotencyInProgress, IdempotencyKeyReused) as exc:  # a twin in flight: the next beat run replays it
            logger.warning("auto-renew of subscription %s not requested: %r", subscription.id, exc)
            continue
        requested.append(AutoRenewRequested(subscription_id=subscription.id,
                                            transaction_id=str(accepted.transaction.id)))
    return requested


class SubscriptionNotFound(NotFound):
    message = "No such subscription."


class SubscriptionNotRenewable(ConflictError):
    code = "subscription_not_renewable"
    message = "A cancelled subscription cannot be renewed."


def _subscription_of_owner_locked(*, user_id: int, subscription_id: int) -> Subscription:
    """The owner's subscription, read under the owner's account lock (which serialises every
    change of a subscription: settlement, expiry, reversal). Another's is a 404."""
    account_for_update().filter(user_id=user_id).first()
    subscription = (Subscription.objects.select_related("offer")
                    .filter(pk=subscription_id, user_id=user_id).first())
    if subscription is None:
        raise SubscriptionNotFound()
    return subscription


def subscription_auto_renew_set(*, user_id: int, subscription_id: int, auto_renew: bool) -> Subscription:
    """Turns auto-renewal of my subscription on or off. On for a cancelled one is refused
    (409): nothing would ever renew it."""
    with db_transaction.atomic():
        subscription = _subscription_of_owner_locked(user_id=user_id, subscription_id=subscription_id)
        if auto_renew and subscription.status == Subscription.Status.CANCELLED:
            raise SubscriptionNotRenewable()
        if subscription.auto_renew != auto_renew:
            subscription.auto_renew = auto_renew
            subscription.save(update_fields=["auto_renew", "updated_at"])
    return subscription


def subscription_cancel(*, user_id: int, subscription_id: int) -> Subscription:
    """Cancels my subscription at once, without a refund (a refund is a reversal of the
    transaction that paid, by staff). A cancelled subscription is never renewed: auto-renew
    is off, and the renewal settler refuses it (`subscription_not_renewable`). Cancelling
    again changes nothing."""
    with db_transaction.atomic():
        subscription = _subscription_of_owner_locked(user_id=user_id, subscription_id=subscription_id)
        if subscription.status != Subscription.Status.CANCELLED:
            subscription.status = Subscription.Status.CANCELLED
            subscription.auto_renew = False
            subscription.save(update_fields=["status", "auto_renew", "updated_at"])
    return subscription
