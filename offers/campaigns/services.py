"""Writes of campaigns, and the budget consumption that settlement calls under the lock."""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.core.cache import cache
from django.db import transaction as db_transaction
from django.utils import timezone
from redis.exceptions import RedisError

from activation.services import Accepted, transaction_accept
from config.errors import ConflictError
from config.fastjson import json_text
from config.prepared_sql import prepared_cursor
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.rules import Evaluation, campaign_evaluate, campaign_local_day
from offers.campaigns.selectors import (CAMPAIGN_CACHE_KEY, campaign_targeting_prefetch, campaign_targets_customer,
                                        customer_segment_id, customer_segment_ids, customer_uses_on_day,
                                        customers_uses_on_days)

KIND_DISCOUNT_REDEMPTION = "discount_redemption"


def campaign_cache_invalidate() -> None:
    try:
        cache.delete(CAMPAIGN_CACHE_KEY)
    except RedisError:
        pass  # the entry expires by itself within CAMPAIGN_CACHE_SECONDS


def _after_commit_invalidate() -> None:
    db_transaction.on_commit(campaign_cache_invalidate, robust=True)


def campaign_create(*, target_customers=(), target_segments=(), **fields) -> Campaign:
    with db_transaction.atomic():
        campaign = Campaign.objects.create(**fields)
        campaign.target_customers.set(target_customers)
        campaign.target_segments.set(target_segments)
        _after_commit_invalidate()
    return campaign


def campaign_update(*, campaign: Campaign, target_customers=None, target_segments=None, **fields) -> Campaign:
    with db_transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        for name, value in fields.items():
            setattr(locked, name, value)
        if "total_budget" in fields and locked.total_budget < locked.spent_amount:
            raise ConflictError("The budget cannot go below what has been spent.", code="budget_below_spent",
                                details={"spent_amount": str(locked.spent_amount)})
        locked.save()
        if target_customers is not None:
            locked.target_customers.set(target_customers)
        if target_segments is not None:
            locked.target_segments.set(target_segments)
        _after_commit_invalidate()
    return locked


def campaign_status_set(*, campaign: Campaign, status: str) -> Campaign:
    return campaign_update(campaign=campaign, status=status)


def campaign_delete(*, campaign: Campaign) -> None:
    with db_transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if CampaignRedemption.objects.filter(campaign=locked).exists():
            raise ConflictError("A campaign with redemptions cannot be deleted; end it instead.",
                                code="campaign_has_redemptions")
        locked.delete()
        _after_commit_invalidate()


def discount_redemption_request(*, user_id: int, campaign: Campaign, cart_value: Decimal, delivery_charge: Decimal,
                                order_reference: str, idempotency_key: str | None) -> Accepted:
    payload = {"campaign_id": campaign.id, "cart_value": str(cart_value), "delivery_charge": str(delivery_charge),
               "order_reference": order_reference}
    return transaction_accept(kind=KIND_DISCOUNT_REDEMPTION, user_id=user_id, payload=payload,
                              currency=campaign.currency, idempotency_key=idempotency_key)


def campaign_redemption_evaluate(*, campaign: Campaign, user_id: int, at: datetime, cart_value: Decimal,
                                 delivery_charge: Decimal) -> Evaluation:
    """Every rule, on the locked campaign row. The customer's segment and daily usage are
    only read when the campaign has a rule that needs them (one query each, per item)."""
    targeted = True
    if campaign.is_targeted:
        targeted = campaign_targets_customer(campaign=campaign, user_id=user_id,
                                             segment_id=customer_segment_id(user_id=user_id))
    uses_today = 0
    if campaign.max_uses_per_customer_per_day is not None:
        uses_today = customer_uses_on_day(campaign=campaign, user_id=user_id, day=campaign_local_day(campaign, at))
    return campaign_evaluate(campaign=campaign, at=at, cart_value=cart_value, delivery_charge=delivery_charge,
                             customer_targeted=targeted, uses_today=uses_today)


def campaign_budget_consume(*, campaign: Campaign, user_id: int, transaction_id, evaluation: Evaluation,
                            base_value: Decimal, order_reference: str, at: datetime,
                            locked=None) -> CampaignRedemption:
    """Records the redemption and the spend on the locked campaign row. Under the settlement
    engine (`locked` given) the campaign row is written once per batch, not per item."""
    redemption = CampaignRedemption.objects.create(
        campaign=campaign, user_id=user_id, transaction_id=transaction_id, amount=evaluation.discount,
        base_value=base_value, order_reference=order_reference, local_day=campaign_local_day(campaign, at))
    campaign.spent_amount += evaluation.discount
    campaign.uses_count += 1
    if locked is not None:
        campaign.updated_at = timezone.now()
        locked.save_deferred(campaign, ["spent_amount", "uses_count", "updated_at"])
    else:
        campaign.save(update_fields=["spent_amount", "uses_count", "updated_at"])
    if _campaign_used_up(campaign):
        _after_commit_invalidate()
    return redemption


def _campaign_used_up(campaign: Campaign) -> bool:
    """Budget or total uses exhausted: customers' cached `available` lists must drop it."""
    return campaign.spent_amount >= campaign.total_budget or (
        campaign.max_total_uses is not None and campaign.uses_count >= campaign.max_total_uses)


@dataclass(frozen=True)
class RedemptionRequest:
    """One pending redemption as settlement sees it (from its transaction)."""
    transaction_id: UUID
    user_id: int
    campaign: Campaign | None  # the locked row; None if the campaign no longer exists
    at: datetime
    cart_value: Decimal
    delivery_charge: Decimal
    order_reference: str


@dataclass
class RedemptionGranted:
    """A redemption row written by campaign_redemptions_settle (a plain record: building
    model instances for a whole batch would cost more than the insert itself)."""
    campaign: Campaign
    user_id: int
    transaction_id: UUID
    amount: Decimal
    base_value: Decimal
    order_reference: str
    local_day: date
    id: int | None = None


def campaign_redemptions_settle(*, requests: list[RedemptionRequest],
                                locked) -> list[RedemptionGranted | Evaluation | None]:
    """campaign_redemption_evaluate + campaign_budget_consume for a batch, in order, with the
    same results as calling them one by one on the locked campaign rows: rule inputs
    (targeting, segments, daily usage) are read once for the batch, budget and usage move in
    memory as items are granted, and the redemptions are inserted in one statement.
    Per request: the redemption, the refusing Evaluation, or None (campaign gone)."""
    campaigns = {r.campaign.id: r.campaign for r in requests if r.campaign is not None}
    for campaign in campaigns.values():
        campaign_targeting_prefetch(campaign=campaign)
    segment_ids = (customer_segment_ids(user_ids={r.user_id for r in requests if r.campaign and r.campaign.is_targeted})
                   if any(c.is_targeted for c in campaigns.values()) else {})
    days = {r.transaction_id: campaign_local_day(r.campaign, r.at) for r in requests if r.campaign is not None}
    uses = customers_uses_on_days(keys={(r.campaign.id, r.user_id, days[r.transaction_id]) for r in requests
                                        if r.campaign is not None
                                        and r.campaign.max_uses_per_customer_per_day is not None})
    results: list[RedemptionGranted | Evaluation | None] = []
    granted: list[RedemptionGranted] = []
    for request in requests:
        campaign = request.campaign
        if campaign is None:
            results.append(None)
            continue
        usage_key = (campaign.id, request.user_id, days[request.transaction_id])
        evaluation = campaign_evaluate(
            campaign=campaign, at=request.at, cart_value=request.cart_value, delivery_charge=request.delivery_charge,
            uses_today=uses.get(usage_key, 0),
            customer_targeted=campaign_targets_customer(campaign=campaign, user_id=request.user_id,
                                                        segment_id=segment_ids.get(request.user_id)))
        if not evaluation.applies:
            results.append(evaluation)
            continue
        base = request.cart_value if campaign.target == Campaign.Target.CART else request.delivery_charge
        redemption = RedemptionGranted(campaign=campaign, user_id=request.user_id,
                                       transaction_id=request.transaction_id, amount=evaluation.discount,
                                       base_value=base, order_reference=request.order_reference,
                                       local_day=usage_key[2])
        campaign.spent_amount += evaluation.discount
        campaign.uses_count += 1
        uses[usage_key] = uses.get(usage_key, 0) + 1
        granted.append(redemption)
        results.append(redemption)
    now = timezone.now()
    _redemptions_insert(granted, now=now)
    for campaign in {r.campaign.id: r.campaign for r in granted}.values():
        campaign.updated_at = now
        locked.save_deferred(campaign, ["spent_amount", "uses_count", "updated_at"])
        if _campaign_used_up(campaign):
            _after_commit_invalidate()
    return results


_REDEMPTIONS_INSERT_SQL = f"""
INSERT INTO {CampaignRedemption._meta.db_table}
       (campaign_id, user_id, transaction_id, amount, base_value, order_reference, local_day, created_at)
SELECT r.campaign_id, r.user_id, r.transaction_id, r.amount, r.base_value, r.order_reference, r.local_day, %(now)s
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(campaign_id integer, user_id integer, transaction_id uuid,
                                                 amount numeric, base_value numeric, order_reference text,
                                                 local_day date)
RETURNING id, transaction_id
"""


def _redemptions_insert(redemptions: list[RedemptionGranted], *, now: datetime) -> None:
    """One INSERT for a batch; the rows travel as one JSON parameter (much cheaper to build
    than the ORM's bulk_create parameters). Sets each record's id."""
    if not redemptions:
        return
    rows = [{"campaign_id": r.campaign.id, "user_id": r.user_id, "transaction_id": r.transaction_id,
             "amount": str(r.amount), "base_value": str(r.base_value), "order_reference": r.order_reference,
             "local_day": r.local_day.isoformat()} for r in redemptions]
    with prepared_cursor() as cursor:
        cursor.execute(_REDEMPTIONS_INSERT_SQL, {"now": now, "rows": json_text(rows)})
        ids = dict((transaction_id, pk) for pk, transaction_id in cursor.fetchall())
    for redemption in redemptions:
        redemption.id = ids[redemption.transaction_id]


def campaign_budget_restore(*, campaign: Campaign, redemption: CampaignRedemption) -> None:
    """Undoes one redemption on the locked campaign row: budget and daily usage come back."""
    redemption.reversed_at = timezone.now()
    redemption.save(update_fields=["reversed_at"])
    campaign.spent_amount -= redemption.amount
    campaign.uses_count -= 1
    campaign.save(update_fields=["spent_amount", "uses_count", "updated_at"])
    _after_commit_invalidate()
