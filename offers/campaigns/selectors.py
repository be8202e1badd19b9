from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import CustomerProfile
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.sql import orders_redemptions
from offers.codes.rules import discount_code_refusal
from offers.codes.selectors import discount_code_get
from offers.campaigns.rules import (Cart, Evaluation, Order, OrderLine, best_combination, campaign_evaluate,
                                    campaign_local_day)

CAMPAIGN_CACHE_KEY = "campaigns:customer-visible:v1"
CAMPAIGN_CACHE_SECONDS = 30  # a backstop; every change invalidates at once


def campaign_list(*, status: str | None = None, target: str | None = None, active_now: bool | None = None,
                  at: datetime | None = None) -> QuerySet[Campaign]:
    qs = (Campaign.objects.annotate(redemption_count=Count("redemptions", filter=Q(redemptions__reversed_at=None)))
          .order_by("-priority", "id"))
    if status:
        qs = qs.filter(status=status)
    if target:
        qs = qs.filter(target=target)
    if active_now is not None:
        at = at or timezone.now()
        # Coarse SQL filter (±1 day covers every time zone), exact check per campaign in Python.
        today = at.date()
        window = (qs.filter(status=Campaign.Status.ACTIVE, starts_on__lte=today + timedelta(days=1),
                            ends_on__gte=today - timedelta(days=1), spent_amount__lt=F("total_budget"))
                  .exclude(max_total_uses__isnull=False, uses_count__gte=F("max_total_uses")))
        active_ids = [c.id for c in window if c.starts_on <= campaign_local_day(c, at) <= c.ends_on]
        qs = qs.filter(id__in=active_ids) if active_now else qs.exclude(id__in=active_ids)
    return qs


def campaign_ids_known(*, campaign_ids) -> set[int]:
    """The ids among `campaign_ids` that a request may name: campaigns that exist and are not drafts."""
    return set(Campaign.objects.exclude(status=Campaign.Status.DRAFT).filter(pk__in=campaign_ids)
               .values_list("pk", flat=True))


def campaigns_customer_visible() -> list[Campaign]:
    """Every campaign a customer could be told about (not drafts), with targeting ids, read
    through the Redis cache. Staleness is harmless: redemption re-checks under the lock."""
    try:
        cached = cache.get(CAMPAIGN_CACHE_KEY)
    except RedisError:
        cached = None
    if cached is not None:
        return cached
    campaigns = list(Campaign.objects.exclude(status=Campaign.Status.DRAFT)
                     .prefetch_related("target_customers", "target_segments"))
    for campaign in campaigns:
        campaign.cached_customer_ids = frozenset(c.pk for c in campaign.target_customers.all())
        campaign.cached_segment_ids = frozenset(s.pk for s in campaign.target_segments.all())
    try:
        cache.set(CAMPAIGN_CACHE_KEY, campaigns, CAMPAIGN_CACHE_SECONDS)
    except RedisError:
        pass
    return campaigns


def campaign_targets_customer(*, campaign: Campaign, user_id: int, segment_id: int | None) -> bool:
    if not campaign.is_targeted:
        return True
    customer_ids = getattr(campaign, "cached_customer_ids", None)
    if customer_ids is None:
        return (campaign.target_customers.filter(pk=user_id).exists()
                or (segment_id is not None and campaign.target_segments.filter(pk=segment_id).exists()))
    return user_id in customer_ids or (segment_id is not None and segment_id in campaign.cached_segment_ids)


def campaign_targeting_prefetch(*, campaign: Campaign) -> None:
    """Loads a targeted campaign's customer and segment ids onto the instance, so that
    campaign_targets_customer answers from memory (the settlement batch calls it per item)."""
    if campaign.is_targeted and getattr(campaign, "cached_customer_ids", None) is None:
        campaign.cached_customer_ids = frozenset(campaign.target_customers.values_list("pk", flat=True))
        campaign.cached_segment_ids = frozenset(campaign.target_segments.values_list("pk", flat=True))


def customer_segment_ids(*, user_ids) -> dict[int, int | None]:
    return dict(CustomerProfile.objects.filter(user_id__in=set(user_ids)).values_list("user_id", "segment_id"))


def customers_uses_on_days(*, keys) -> dict[tuple[int, int, object], int]:
    """Uses per (campaign id, user id, local day) that count towards the daily limit, for many
    keys in one query: live redemptions, and those the customer reversed themselves."""
    keys = set(keys)
    if not keys:
        return {}
    rows = (CampaignRedemption.objects
            .filter(campaign_id__in={k[0] for k in keys}, user_id__in={k[1] for k in keys},
                    local_day__in={k[2] for k in keys})
            .filter(Q(reversed_at=None) | Q(reversal_keeps_daily_use=True))
            .values_list("campaign_id", "user_id", "local_day").annotate(n=Count("id")))
    return {(campaign_id, user_id, day): n for campaign_id, user_id, day, n in rows
            if (campaign_id, user_id, day) in keys}


def orders_get(*, keys) -> dict[tuple[int, str], Order]:
    """The orders (user id, order reference) as their live redemptions describe them, in one
    query. Exact only with the customers' accounts locked (settlement holds them)."""
    orders: dict[tuple[int, str], Order] = {}
    for user_id, reference, campaign_id, target, stackable, amount, cart_value, delivery, currency in (
            orders_redemptions(set(keys))):
        key = (user_id, reference)
        orders[key] = orders.get(key, Order()).with_line(
            Cart(cart_value=cart_value, delivery_charge=delivery, currency=currency),
            OrderLine(campaign_id=campaign_id, target=target, stackable=stackable, amount=amount))
    return orders


def _order(*, user_id: int, order_reference: str | None) -> Order:
    if not order_reference:
        return Order()
    return orders_get(keys={(user_id, order_reference)}).get((user_id, order_reference), Order())


def campaigns_evaluate_for(*, user_id: int, campaigns: list[Campaign], cart: Cart, order: Order,
                           at: datetime, with_code: bool = False) -> list[tuple[Campaign, Evaluation]]:
    """campaign_evaluate for one customer and cart, with the inputs read as settlement reads
    them (segment, day's uses, order), for the advice endpoints (`available`, `codes/validate`)."""
    segment_id = customer_segment_ids(user_ids={user_id}).get(user_id)
    uses = customers_uses_on_days(keys={(c.id, user_id, campaign_local_day(c, at)) for c in campaigns})
    return [(c, campaign_evaluate(campaign=c, at=at, cart=cart, order=order, with_code=with_code,
                                  uses_today=uses.get((c.id, user_id, campaign_local_day(c, at)), 0),
                                  customer_targeted=campaign_targets_customer(campaign=c, user_id=user_id,
                                                                              segment_id=segment_id)))
            for c in campaigns]


def discount_code_check(*, user_id: int, code: str, cart: Cart, order_reference: str | None = None,
                        at: datetime | None = None) -> dict:
    """Whether `code` is valid for this customer, cart and order now, with every reason it is
    not (the code's own, then its campaign's) and the discount it would give."""
    at = at or timezone.now()
    found = discount_code_get(code=code)
    refusal = discount_code_refusal(code=found, user_id=user_id, at=at)
    reasons = [refusal] if refusal else []
    body = {"code": code.strip().upper(), "campaign_id": None, "discount": None, "currency": cart.currency}
    campaign = found.pool.campaign if found is not None and found.pool.campaign_id else None
    if campaign is not None:
        campaign_targeting_prefetch(campaign=campaign)
        [(_, evaluation)] = campaigns_evaluate_for(user_id=user_id, campaigns=[campaign], cart=cart,
                                                   order=_order(user_id=user_id, order_reference=order_reference),
                                                   at=at, with_code=True)
        reasons += list(evaluation.refusals)
        body.update(campaign_id=campaign.id, discount=str(evaluation.discount))
    return {**body, "valid": not reasons, "reasons": reasons}


def discounts_available(*, user_id: int, cart: Cart, order_reference: str | None = None, explain: bool = False,
                        at: datetime | None = None) -> dict:
    """What settlement would decide for each campaign alone, now, for this cart (and order),
    best first, and the best combination. Read from the cache: settlement re-checks."""
    at = at or timezone.now()
    order = _order(user_id=user_id, order_reference=order_reference)
    evaluated = campaigns_evaluate_for(user_id=user_id, campaigns=campaigns_customer_visible(), cart=cart,
                                       order=order, at=at)
    applicable = sorted(((c, e) for c, e in evaluated if e.applies),
                        key=lambda ce: (-ce[1].discount, -ce[0].priority, ce[0].id))
    ids, total = best_combination(applicable, cart=cart, order=order)
    body = {
        "currency": cart.currency,
        "campaigns": [_describe(c, e) for c, e in applicable],
        "best_combination": {"campaign_ids": ids, "total_discount": str(total), "currency": cart.currency},
    }
    if explain:
        body["not_applicable"] = [{**_describe(c, e), "reasons": list(e.refusals)}
                                  for c, e in evaluated if not e.applies]
    return body


def _describe(campaign: Campaign, evaluation: Evaluation) -> dict:
    return {"campaign_id": campaign.id, "name": campaign.name, "target": campaign.target, "kind": campaign.kind,
            "discount": str(evaluation.discount), "currency": campaign.currency,
            "stackable": campaign.is_stackable, "priority": campaign.priority}


def redemption_list(*, user_id: int | None = None, campaign_id: int | None = None, day=None) -> QuerySet:
    qs = CampaignRedemption.objects.select_related("campaign").order_by("-id")
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    if day is not None:
        qs = qs.filter(local_day=day)
    return qs
