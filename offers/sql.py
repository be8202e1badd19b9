"""The hand-written statements of the offers app, built from the models' metadata (a renamed
field fails here, at import). tests/offers/test_sql.py checks each one reads or writes what the
ORM would. All run prepared (kernel.prepared_sql): they are on the settlement path."""
from datetime import datetime, timedelta
from uuid import UUID

from kernel.prepared_sql import (column, columns, instance_loaded, model_columns, prepared_cursor,
                                 prepared_instances, table)
from offers.models import Offer, Subscription

_ACTIVE = Subscription.Status.ACTIVE.value

# The one subscription-extension rule: a period is added to the later of the current end and
# now. Activation (the upsert) and renewal both extend by it; a reversal takes back what is
# left of the period one transaction bought (offers.services.subscription_period_take_back).
SUBSCRIPTION_EXTENDED_END_SQL = "GREATEST({end}, %(now)s) + %(period)s"

_EXPIRES_AT = column(Subscription, "expires_at")
_UPDATED_AT = column(Subscription, "updated_at")

# The one-active-subscription-per-offer constraint decides between insert and extend.
SUBSCRIPTION_EXTEND_OR_CREATE_SQL = f"""
INSERT INTO {table(Subscription)} AS s ({columns(Subscription, "user", "offer", "status", "started_at",
                                                 "expires_at", "auto_renew")},
                                                {columns(Subscription, "created_by_transaction", "updated_at")})
VALUES (%(user)s, %(offer)s, '{_ACTIVE}', %(now)s, %(now)s + %(period)s, false, %(transaction)s, %(now)s)
ON CONFLICT ({columns(Subscription, "user", "offer")}) WHERE {column(Subscription, "status")} = '{_ACTIVE}'
DO UPDATE SET {_EXPIRES_AT} = {SUBSCRIPTION_EXTENDED_END_SQL.format(end=f"s.{_EXPIRES_AT}")}, \
{_UPDATED_AT} = %(now)s
RETURNING {columns(Subscription, "id", "status", "started_at", "expires_at", "auto_renew",
                   "created_by_transaction")}
"""

SUBSCRIPTION_RENEW_SQL = f"""
UPDATE {table(Subscription)} AS s
   SET {_EXPIRES_AT} = {SUBSCRIPTION_EXTENDED_END_SQL.format(end=f"s.{_EXPIRES_AT}")}, \
{column(Subscription, "status")} = '{_ACTIVE}', {_UPDATED_AT} = %(now)s
 WHERE s.{column(Subscription, "id")} = %(subscription)s
RETURNING {_EXPIRES_AT}
"""

# What Offer.objects.filter(pk__in=...) reads, without compiling a queryset on every batch.
OFFERS_READ_SQL = f"SELECT {model_columns(Offer)} FROM {table(Offer)} WHERE {column(Offer, 'id')} = ANY(%s)"


def subscription_extend_or_create_returning(*, user_id: int, offer: Offer, period: timedelta,
                                            transaction_id: UUID, now: datetime) -> Subscription:
    """The user's active subscription of `offer` extended by `period`, or a new one running
    `period` from `now`; returned as stored."""
    with prepared_cursor() as cursor:
        cursor.execute(SUBSCRIPTION_EXTEND_OR_CREATE_SQL, {"user": user_id, "offer": offer.id, "now": now,
                                                           "period": period, "transaction": transaction_id})
        pk, status, started_at, expires_at, auto_renew, created_by = cursor.fetchone()
    subscription = instance_loaded(Subscription, id=pk, user_id=user_id, offer_id=offer.id, status=status,
                                   started_at=started_at, expires_at=expires_at, auto_renew=auto_renew,
                                   created_by_transaction_id=created_by, updated_at=now)
    subscription.offer = offer
    return subscription


def subscription_extend_returning(*, subscription_id: int, period: timedelta, now: datetime) -> datetime:
    """Subscription `subscription_id` extended by `period` and made active; its new end."""
    with prepared_cursor() as cursor:
        cursor.execute(SUBSCRIPTION_RENEW_SQL, {"subscription": subscription_id, "now": now, "period": period})
        (expires_at,) = cursor.fetchone()
    return expires_at


def subscription_end_extended(*, end: datetime, period: timedelta, now: datetime) -> datetime:
    """The rule alone: where a subscription ending at `end` ends once extended by `period` at `now`."""
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {SUBSCRIPTION_EXTENDED_END_SQL.format(end='%(end)s::timestamptz')}",
                       {"end": end, "now": now, "period": period})
        (extended,) = cursor.fetchone()
    return extended


def offers_read(offer_ids: list[int]) -> list[Offer]:
    """The offers with these ids that exist, as the ORM would load them."""
    return prepared_instances(Offer, OFFERS_READ_SQL, [offer_ids])
