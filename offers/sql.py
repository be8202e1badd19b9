"""The hand-written statements of the offers app, built from the models' metadata (a renamed
field fails here, at import). tests/offers/test_sql.py checks each one reads or writes what the
ORM would. All run prepared (kernel.prepared_sql): they are on the settlement path."""
from datetime import datetime, timedelta
from uuid import UUID

from kernel.fastjson import json_text
from kernel.prepared_sql import (column, columns, instance_loaded, model_columns, prepared_cursor,
                                 prepared_instances, table)
from offers.models import Offer, Subscription

_ACTIVE = Subscription.Status.ACTIVE.value

# The one subscription-extension rule: a period is added to the later of the current end and
# now. Activation (the upsert) and renewal both extend by it; a reversal takes back what is
# left of the period one transaction bought (offers.services.subscription_period_take_back).
SUBSCRIPTION_EXTENDED_END_SQL = "GREATEST({end}, %(now)s) + {period}"

_EXPIRES_AT = column(Subscription, "expires_at")
_UPDATED_AT = column(Subscription, "updated_at")

# The one-active-subscription-per-offer constraint decides between insert and extend, for
# every activation of a settlement batch at once (a (user, offer) pair at most once per
# statement: PostgreSQL updates a row once per statement).
_ACTIVATION_TYPES = {"user": "bigint", "offer": "bigint", "period": "interval", "transaction": "uuid"}
# The period of the activation that met the active subscription (the row proposed, EXCLUDED).
_ITS_PERIOD = (f'(SELECT a.period FROM activation a WHERE a."user" = EXCLUDED.{column(Subscription, "user")} '
               f'AND a.offer = EXCLUDED.{column(Subscription, "offer")})')
SUBSCRIPTIONS_EXTEND_OR_CREATE_SQL = f"""
WITH activation AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS a({", ".join(f'"{name}" {kind}' for name, kind in _ACTIVATION_TYPES.items())})
)
INSERT INTO {table(Subscription)} AS s ({columns(Subscription, "user", "offer", "status", "started_at",
                                                 "expires_at", "auto_renew")},
                                                {columns(Subscription, "created_by_transaction", "updated_at")})
SELECT a."user", a.offer, '{_ACTIVE}', %(now)s, %(now)s + a.period, false, a.transaction, %(now)s FROM activation a
ON CONFLICT ({columns(Subscription, "user", "offer")}) WHERE {column(Subscription, "status")} = '{_ACTIVE}'
DO UPDATE SET {_EXPIRES_AT} = {SUBSCRIPTION_EXTENDED_END_SQL.format(end=f"s.{_EXPIRES_AT}", period=_ITS_PERIOD)}, \
{_UPDATED_AT} = %(now)s
RETURNING {columns(Subscription, "user", "offer", "id", "status", "started_at", "expires_at", "auto_renew",
                   "created_by_transaction")}
"""

SUBSCRIPTION_RENEW_SQL = f"""
UPDATE {table(Subscription)} AS s
   SET {_EXPIRES_AT} = {SUBSCRIPTION_EXTENDED_END_SQL.format(end=f"s.{_EXPIRES_AT}", period="%(period)s")}, \
{column(Subscription, "status")} = '{_ACTIVE}', {_UPDATED_AT} = %(now)s
 WHERE s.{column(Subscription, "id")} = %(subscription)s
RETURNING {_EXPIRES_AT}
"""

# What Offer.objects.filter(pk__in=...) reads, without compiling a queryset on every batch.
OFFERS_READ_SQL = f"SELECT {model_columns(Offer)} FROM {table(Offer)} WHERE {column(Offer, 'id')} = ANY(%s)"


def subscriptions_extend_or_create_returning(activations: list[tuple[int, Offer, timedelta, UUID]], *,
                                             now: datetime) -> dict[tuple[int, int], Subscription]:
    """For each (user id, offer, period, transaction id), at most one per (user, offer): the
    user's active subscription of the offer extended by `period`, or a new one running
    `period` from `now`; returned as stored, by (user id, offer id)."""
    if not activations:
        return {}
    offers = {offer.id: offer for _, offer, _, _ in activations}
    rows = [{"user": user_id, "offer": offer.id, "transaction": str(transaction_id),
             "period": f"{period.days} days {period.seconds}.{period.microseconds:06d} seconds"}
            for user_id, offer, period, transaction_id in activations]
    with prepared_cursor() as cursor:
        cursor.execute(SUBSCRIPTIONS_EXTEND_OR_CREATE_SQL, {"rows": json_text(rows), "now": now})
        stored = cursor.fetchall()
    subscriptions = {}
    for user_id, offer_id, pk, status, started_at, expires_at, auto_renew, created_by in stored:
        subscription = instance_loaded(Subscription, id=pk, user_id=user_id, offer_id=offer_id, status=status,
                                       started_at=started_at, expires_at=expires_at, auto_renew=auto_renew,
                                       created_by_transaction_id=created_by, updated_at=now)
        subscription.offer = offers[offer_id]
        subscriptions[user_id, offer_id] = subscription
    return subscriptions


def subscription_extend_or_create_returning(*, user_id: int, offer: Offer, period: timedelta,
                                            transaction_id: UUID, now: datetime) -> Subscription:
    """One activation's subscription, by the same statement as a batch's."""
    return subscriptions_extend_or_create_returning([(user_id, offer, period, transaction_id)], now=now)[
        user_id, offer.id]


def subscription_extend_returning(*, subscription_id: int, period: timedelta, now: datetime) -> datetime:
    """Subscription `subscription_id` extended by `period` and made active; its new end."""
    with prepared_cursor() as cursor:
        cursor.execute(SUBSCRIPTION_RENEW_SQL, {"subscription": subscription_id, "now": now, "period": period})
        (expires_at,) = cursor.fetchone()
    return expires_at


def subscription_end_extended(*, end: datetime, period: timedelta, now: datetime) -> datetime:
    """The rule alone: where a subscription ending at `end` ends once extended by `period` at `now`."""
    with prepared_cursor() as cursor:
        extended_end = SUBSCRIPTION_EXTENDED_END_SQL.format(end="%(end)s::timestamptz", period="%(period)s")
        cursor.execute(f"SELECT {extended_end}",
                       {"end": end, "now": now, "period": period})
        (extended,) = cursor.fetchone()
    return extended


def offers_read(offer_ids: list[int]) -> list[Offer]:
    """The offers with these ids that exist, as the ORM would load them."""
    return prepared_instances(Offer, OFFERS_READ_SQL, [offer_ids])
