"""Writes of campaigns, and the redemption rules that settlement applies under the locks."""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.core.cache import cache
from django.db import transaction as db_transaction
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.money import money_whole_require
from activation.services import Accepted, transaction_accept
from kernel.errors import ConflictError
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.sql import campaign_redemptions_insert_returning
from offers.locks import campaign_for_update
from offers.codes.errors import CodeFailure
from offers.codes.rules import discount_code_refusal
from offers.codes.selectors import discount_codes_for_checkout
from offers.codes.services import discount_code_release, discount_codes_use
from offers.campaigns.rules import (Cart, Evaluation, Order, OrderLine, campaign_evaluate, campaign_is_used_up,
                                    campaign_local_day)
from offers.campaigns.selectors import (CAMPAIGN_CACHE_KEY, campaign_targeting_prefetch, campaign_targets_customer,
                                        customer_segment_ids, customers_uses_on_days, orders_get)

KIND_DISCOUNT_REDEMPTION = "discount_redemption"


def campaign_cache_invalidate() -> None:
    try:
        cache.delete(CAMPAIGN_CACHE_KEY)
    except RedisError:
        pass  # the entry expires by itself within CAMPAIGN_CACHE_SECONDS


def _after_commit_invalidate() -> None:
    db_transaction.on_commit(campaign_cache_invalidate, robust=True)


def _campaign_amounts_check(campaign: Campaign) -> None:
    """Its amounts (a flat discount's value, the budget, the cap, the minimum cart) are
    amounts of its currency; a percentage is not an amount."""
    value = {} if campaign.kind == Campaign.Kind.PERCENTAGE else {"value": campaign.value}
    money_whole_require(campaign.currency, **value, total_budget=campaign.total_budget,
                        max_discount_amount=campaign.max_discount_amount, min_cart_value=campaign.min_cart_value)


def campaign_create(*, target_customers=(), target_segments=(), **fields) -> Campaign:
    with db_transaction.atomic():
        campaign = Campaign(**fields)
        _campaign_amounts_check(campaign)
        campaign.save()
        campaign.target_customers.set(target_customers)
        campaign.target_segments.set(target_segments)
        _after_commit_invalidate()
    return campaign


def campaign_update(*, campaign: Campaign, target_customers=None, target_segments=None, **fields) -> Campaign:
    with db_transaction.atomic():
        locked = campaign_for_update().get(pk=campaign.pk)
        if fields.get("currency", locked.currency) != locked.currency and locked.uses_count:
            raise ConflictError("The currency of a campaign that has been redeemed cannot change: what it spent is "
                                "in it.", code="currency_in_use", details={"spent_amount": str(locked.spent_amount)})
        for name, value in fields.items():
            setattr(locked, name, value)
        if fields.keys() & {"currency", "kind", "value", "total_budget", "max_discount_amount", "min_cart_value"}:
            _campaign_amounts_check(locked)
        if "total_budget" in fields and locked.total_budget < locked.spent_amount:
            raise ConflictError("The budget cannot go below what has been spent.", code="budget_below_spent",
                                details={"spent_amount": str(locked.spent_amount)})
        # Only the fields asked for: the counters belong to settlement.
        locked.save(update_fields=[*fields, "updated_at"])
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
        locked = campaign_for_update().get(pk=campaign.pk)
        if CampaignRedemption.objects.filter(campaign=locked).exists():
            raise ConflictError("A campaign with redemptions cannot be deleted; end it instead.",
                                code="campaign_has_redemptions")
        if locked.code_pools.exists():
            raise ConflictError("A code pool carries this campaign; end it instead.", code="campaign_in_use")
        locked.delete()
        _after_commit_invalidate()


def discount_redemption_request(*, user_id: int, campaign_ids: list[int], cart: Cart, order_reference: str,
                                idempotency_key: str | None, code=None) -> Accepted:
    """Accepts the redemption of one campaign, or of a combination as one transaction that
    succeeds or fails whole, inside the customer's order `order_reference`. With a discount
    `code`, its pool's campaign joins the combination and the code is spent with it."""
    campaign_ids = list(campaign_ids)
    if code is not None and code.pool.campaign_id not in campaign_ids:
        campaign_ids.append(code.pool.campaign_id)
    payload = {"campaign_ids": campaign_ids, "cart_value": str(cart.cart_value),
               "delivery_charge": str(cart.delivery_charge), "currency": cart.currency,
               "order_reference": order_reference, **({"code_id": code.id} if code is not None else {})}
    return transaction_accept(kind=KIND_DISCOUNT_REDEMPTION, user_id=user_id, payload=payload,
                              currency=cart.currency, idempotency_key=idempotency_key)


@dataclass(frozen=True)
class RedemptionRequest:
    """One pending redemption as settlement sees it: its campaigns (the locked rows, in the
    order asked; None for one that no longer exists), cart and order."""
    transaction_id: UUID
    user_id: int
    campaign_ids: tuple[int, ...]
    campaigns: tuple[Campaign | None, ...]
    at: datetime
    cart: Cart
    order_reference: str
    code_id: int | None = None  # a discount code used at checkout: its pool's campaign is among `campaigns`


@dataclass
class RedemptionGranted:
    """A redemption row to write (a plain record: building model instances for a whole batch
    would cost more than the insert itself)."""
    campaign: Campaign
    user_id: int
    transaction_id: UUID
    amount: Decimal
    base_value: Decimal
    cart: Cart
    order_reference: str
    local_day: date
    id: int | None = None


@dataclass
class RedemptionDecision:
    """Every campaign of a request granted, or the first that refuses (`refusal`), or one
    that no longer exists (`missing_campaign_id`): a combination succeeds or fails whole."""
    granted: list[RedemptionGranted]
    refusal: Evaluation | None = None
    missing_campaign_id: int | None = None
    code_refusal: str | None = None
    code_id: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.refusal is None and self.missing_campaign_id is None and self.code_refusal is None

    @property
    def total(self) -> Decimal:
        return sum((g.amount for g in self.granted), Decimal("0"))


class CampaignRedemptions:
    """The campaign rules for a batch of redemption requests, on the locked campaign rows and
    with the customers' accounts locked (which serialises each customer's orders). The rule
    inputs (targeting, segments, daily usage, the orders' live redemptions) are read once
    for the batch; budget, uses, daily usage and orders then move in memory as items are
    granted, so deciding a batch in order gives what deciding each alone would. Every path
    that redeems (discount redemptions, single or batched; activations with a campaign)
    decides through `evaluate` and writes through `grant` + `record`."""

    def __init__(self, requests: list[RedemptionRequest]):
        campaigns = {c.id: c for r in requests for c in r.campaigns if c is not None}
        for campaign in campaigns.values():
            campaign_targeting_prefetch(campaign=campaign)
        self._segments = (customer_segment_ids(user_ids={r.user_id for r in requests})
                          if any(c.is_targeted for c in campaigns.values()) else {})
        self._uses = customers_uses_on_days(keys={
            (c.id, r.user_id, campaign_local_day(c, r.at)) for r in requests for c in r.campaigns
            if c is not None and c.max_uses_per_customer_per_day is not None})
        self._orders = orders_get(keys={(r.user_id, r.order_reference) for r in requests})
        self._codes = discount_codes_for_checkout(code_ids={r.code_id for r in requests if r.code_id})
        self._codes_used: dict[int, UUID] = {}
        self._granted: list[RedemptionGranted] = []

    def evaluate(self, request: RedemptionRequest) -> RedemptionDecision:
        """Decides the request without changing anything."""
        code = None
        if request.code_id is not None:
            code = self._codes.get(request.code_id)
            refusal = discount_code_refusal(code=code, user_id=request.user_id, at=request.at,
                                            used_in_batch=request.code_id in self._codes_used)
            if refusal is None and code.pool.campaign_id not in request.campaign_ids:
                refusal = CodeFailure.NO_DISCOUNT  # the pool's discount changed since the request
            if refusal is not None:
                return RedemptionDecision(granted=[], code_refusal=refusal, code_id=request.code_id)
        order = self._orders.get((request.user_id, request.order_reference), Order())
        granted = []
        for campaign_id, campaign in zip(request.campaign_ids, request.campaigns, strict=True):
            if campaign is None:
                return RedemptionDecision(granted=[], missing_campaign_id=campaign_id)
            day = campaign_local_day(campaign, request.at)
            evaluation = campaign_evaluate(
                campaign=campaign, at=request.at, cart=request.cart, order=order,
                with_code=code is not None and code.pool.campaign_id == campaign.id,
                uses_today=self._uses.get((campaign.id, request.user_id, day), 0),
                customer_targeted=campaign_targets_customer(campaign=campaign, user_id=request.user_id,
                                                            segment_id=self._segments.get(request.user_id)))
            if not evaluation.applies:
                return RedemptionDecision(granted=[], refusal=evaluation)
            base = request.cart.cart_value if campaign.target == Campaign.Target.CART else request.cart.delivery_charge
            granted.append(RedemptionGranted(campaign=campaign, user_id=request.user_id,
                                             transaction_id=request.transaction_id, amount=evaluation.discount,
                                             base_value=base, cart=request.cart,
                                             order_reference=request.order_reference, local_day=day))
            order = order.with_line(request.cart, _order_line(campaign, evaluation.discount))
        return RedemptionDecision(granted=granted, code_id=request.code_id)

    def grant(self, decision: RedemptionDecision) -> None:
        """Applies a successful decision to the in-memory state; `record` writes it."""
        if decision.code_id is not None:
            self._codes_used[decision.code_id] = decision.granted[0].transaction_id
        for redemption in decision.granted:
            campaign, key = redemption.campaign, (redemption.user_id, redemption.order_reference)
            campaign.spent_amount += redemption.amount
            campaign.uses_count += 1
            usage_key = (campaign.id, redemption.user_id, redemption.local_day)
            self._uses[usage_key] = self._uses.get(usage_key, 0) + 1
            self._orders[key] = self._orders.get(key, Order()).with_line(
                redemption.cart, _order_line(campaign, redemption.amount))
            self._granted.append(redemption)

    def record(self, *, locked) -> None:
        """Writes the granted redemptions (one INSERT) and marks their campaigns for the
        engine's one write per batch; a campaign used up drops out of `available`."""
        now = timezone.now()
        _redemptions_insert(self._granted, now=now)
        discount_codes_use(uses=self._codes_used, at=now)
        self._codes_used = {}
        for campaign in {r.campaign.id: r.campaign for r in self._granted}.values():
            campaign.updated_at = now
            locked.save_deferred(campaign, ["spent_amount", "uses_count", "updated_at"])
            if campaign_is_used_up(campaign):
                _after_commit_invalidate()
        self._granted = []


def _order_line(campaign: Campaign, amount: Decimal) -> OrderLine:
    return OrderLine(campaign_id=campaign.id, target=campaign.target, stackable=campaign.is_stackable, amount=amount)


def campaign_redemptions_settle(*, requests: list[RedemptionRequest], locked) -> list[RedemptionDecision]:
    """Decides and records a batch of redemption requests, in order."""
    redemptions = CampaignRedemptions(requests)
    decisions = []
    for request in requests:
        decision = redemptions.evaluate(request)
        if decision.succeeded:
            redemptions.grant(decision)
        decisions.append(decision)
    redemptions.record(locked=locked)
    return decisions


def _redemptions_insert(redemptions: list[RedemptionGranted], *, now: datetime) -> None:
    """One INSERT for a batch (offers.campaigns.sql). Sets each record's id."""
    if not redemptions:
        return
    rows = [{"campaign_id": r.campaign.id, "user_id": r.user_id, "transaction_id": r.transaction_id,
             "amount": str(r.amount), "base_value": str(r.base_value), "cart_value": str(r.cart.cart_value),
             "delivery_charge": str(r.cart.delivery_charge), "currency": r.cart.currency,
             "order_reference": r.order_reference, "local_day": r.local_day.isoformat()} for r in redemptions]
    ids = campaign_redemptions_insert_returning(rows, now=now)
    for redemption in redemptions:
        redemption.id = ids[(redemption.transaction_id, redemption.campaign.id)]


def campaign_redemptions_restore(*, transaction_id: UUID, locked, keep_daily_use: bool) -> list[CampaignRedemption]:
    """Undoes the live redemptions of one transaction on the locked campaign rows: budget and
    uses come back, the order no longer holds them, and the day's use too unless
    `keep_daily_use` (a customer's own reversal never gives them another use that day)."""
    now = timezone.now()
    restored = list(CampaignRedemption.objects.filter(transaction_id=transaction_id, reversed_at=None)
                    .order_by("campaign_id"))
    for redemption in restored:
        campaign = locked.get(Campaign, "id", redemption.campaign_id)
        redemption.reversed_at, redemption.reversal_keeps_daily_use = now, keep_daily_use
        redemption.save(update_fields=["reversed_at", "reversal_keeps_daily_use"])
        campaign.spent_amount -= redemption.amount
        campaign.uses_count -= 1
        campaign.save(update_fields=["spent_amount", "uses_count", "updated_at"])
    if restored:
        _after_commit_invalidate()
    discount_code_release(transaction_id=transaction_id)
    return restored
