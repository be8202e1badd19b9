"""Writes of the offers catalogue and the requests that start offer transactions."""
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection
from django.utils import timezone

from activation.services import Accepted, transaction_accept
from kernel.prepared_sql import prepared_cursor
from offers.models import Offer, Subscription

KIND_OFFER_ACTIVATION = "offer_activation"
KIND_OFFER_RENEWAL = "offer_renewal"


def offer_activation_request(*, user_id: int, offer: Offer, idempotency_key: str | None,
                             campaign_id: int | None = None, idempotency_scope: str | None = None,
                             context: dict | None = None) -> Accepted:
    """Accepts an activation at the price quoted now (less a campaign's discount, computed
    at settlement); settlement re-checks everything. `context` (e.g. the partner and its
    reference) is recorded in the payload; it does not change how the activation settles."""
    payload = {"offer_id": offer.id, **({"campaign_id": campaign_id} if campaign_id else {}),
               **({"context": context} if context else {})}
    return transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user_id, payload=payload,
                              amount=offer.price, currency=offer.currency, idempotency_key=idempotency_key,
                              idempotency_scope=idempotency_scope)


def offer_renewal_request(*, user_id: int, subscription: Subscription, idempotency_key: str | None) -> Accepted:
    offer = subscription.offer
    return transaction_accept(kind=KIND_OFFER_RENEWAL, user_id=user_id,
                              payload={"subscription_id": subscription.id, "offer_id": offer.id},
                              amount=offer.price, currency=offer.currency, idempotency_key=idempotency_key)


# The one subscription-extension rule: a period is added to the later of the current end
# and now (an activation, a renewal and the upsert below all extend by it; a reversal takes
# exactly one period back off).
_EXTENDED_END_SQL = "GREATEST({end}, %(now)s) + %(period)s"

_SUBSCRIPTION_EXTEND_OR_CREATE_SQL = f"""
INSERT INTO {Subscription._meta.db_table} AS s (user_id, offer_id, status, started_at, expires_at, auto_renew,
                                                created_by_transaction_id, updated_at)
VALUES (%(user)s, %(offer)s, 'active', %(now)s, %(now)s + %(period)s, false, %(transaction)s, %(now)s)
ON CONFLICT (user_id, offer_id) WHERE status = 'active'
DO UPDATE SET expires_at = {_EXTENDED_END_SQL.format(end="s.expires_at")}, updated_at = %(now)s
RETURNING id, status, started_at, expires_at, auto_renew, created_by_transaction_id
"""

_SUBSCRIPTION_RENEW_SQL = f"""
UPDATE {Subscription._meta.db_table} AS s
   SET expires_at = {_EXTENDED_END_SQL.format(end="s.expires_at")}, status = 'active', updated_at = %(now)s
 WHERE s.id = %(subscription)s
RETURNING expires_at
"""


def subscription_extend_or_create(*, user_id: int, offer: Offer, transaction_id: UUID,
                                  now: datetime | None = None) -> Subscription:
    """Called by settlement with the account locked. Activating an offer the customer
    already has adds its validity to the end of the current period. One statement: the
    one-active-subscription-per-offer constraint decides between insert and extend."""
    now = now or timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(_SUBSCRIPTION_EXTEND_OR_CREATE_SQL, {"user": user_id, "offer": offer.id, "now": now,
                                                            "period": timedelta(days=offer.validity_days),
                                                            "transaction": transaction_id})
        pk, status, started_at, expires_at, auto_renew, created_by = cursor.fetchone()
    subscription = Subscription(id=pk, user_id=user_id, offer=offer, status=status, started_at=started_at,
                                expires_at=expires_at, auto_renew=auto_renew, created_by_transaction_id=created_by,
                                updated_at=now)
    subscription._state.adding, subscription._state.db = False, connection.alias
    return subscription


def subscription_renew(*, subscription: Subscription, now: datetime | None = None) -> Subscription:
    """With the owner's account locked: one more period, by the same rule as an activation."""
    now = now or timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(_SUBSCRIPTION_RENEW_SQL, {"subscription": subscription.id, "now": now,
                                                 "period": timedelta(days=subscription.offer.validity_days)})
        (subscription.expires_at,) = cursor.fetchone()
    subscription.status, subscription.updated_at = Subscription.Status.ACTIVE, now
    return subscription


def subscription_period_take_back(*, subscription_id: int, period_end: datetime,
                                  now: datetime | None = None) -> Subscription:
    """With the owner's account locked (a reversal): what is left of the period one
    transaction bought (it ended at `period_end`, at most one offer period) comes off the end,
    so later periods move up and a period already over takes nothing from a later renewal; a
    subscription left with nothing to run is cancelled."""
    now = now or timezone.now()
    subscription = Subscription.objects.select_related("offer").get(pk=subscription_id)
    period = timedelta(days=subscription.offer.validity_days)
    subscription.expires_at -= min(max(period_end - now, timedelta(0)), period)
    if subscription.expires_at <= now and subscription.status == Subscription.Status.ACTIVE:
        subscription.status = Subscription.Status.CANCELLED
    subscription.save(update_fields=["expires_at", "status", "updated_at"])
    return subscription
