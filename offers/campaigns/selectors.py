from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import CustomerProfile
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.rules import Evaluation, best_combination, campaign_evaluate, campaign_local_day

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
        window = qs.filter(status=Campaign.Status.ACTIVE, starts_on__lte=today + timedelta(days=1),
                           ends_on__gte=today - timedelta(days=1))
        active_ids = [c.id for c in window if c.starts_on <= campaign_local_day(c, at) <= c.ends_on]
        qs = qs.filter(id__in=active_ids) if active_now else qs.exclude(id__in=active_ids)
    return qs


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


def customer_segment_id(*, user_id: int) -> int | None:
    return CustomerProfile.objects.filter(user_id=user_id).values_list("segment_id", flat=True).first()


def campaign_targets_customer(*, campaign: Campaign, user_id: int, segment_id: int | None) -> bool:
    if not campaign.is_targeted:
        return True
    customer_ids = getattr(campaign, "cached_customer_ids", None)
    if customer_ids is None:
        return (campaign.target_customers.filter(pk=user_id).exists()
                or (segment_id is not None and campaign.target_segments.filter(pk=segment_id).exists()))
    return user_id in customer_ids or (segment_id is not None and segment_id in campaign.cached_segment_ids)


def customer_uses_on_day(*, campaign: Campaign, user_id: int, day) -> int:
    return CampaignRedemption.objects.filter(campaign=campaign, user_id=user_id, local_day=day,
                                             reversed_at=None).count()


def campaign_targeting_prefetch(*, campaign: Campaign) -> None:
    """Loads a targeted campaign's customer and segment ids onto the instance, so that
    campaign_targets_customer answers from memory (the settlement batch calls it per item)."""
    if campaign.is_targeted and getattr(campaign, "cached_customer_ids", None) is None:
        campaign.cached_customer_ids = frozenset(campaign.target_customers.values_list("pk", flat=True))
        campaign.cached_segment_ids = frozenset(campaign.target_segments.values_list("pk", flat=True))


def customer_segment_ids(*, user_ids) -> dict[int, int | None]:
    return dict(CustomerProfile.objects.filter(user_id__in=set(user_ids)).values_list("user_id", "segment_id"))


def customers_uses_on_days(*, keys) -> dict[tuple[int, int, object], int]:
    """Live redemptions per (campaign id, user id, local day), for many keys in one query."""
    keys = set(keys)
    if not keys:
        return {}
    rows = (CampaignRedemption.objects
            .filter(campaign_id__in={k[0] for k in keys}, user_id__in={k[1] for k in keys},
                    local_day__in={k[2] for k in keys}, reversed_at=None)
            .values_list("campaign_id", "user_id", "local_day").annotate(n=Count("id")))
    return {(campaign_id, user_id, day): n for campaign_id, user_id, day, n in rows
            if (campaign_id, user_id, day) in keys}


def customer_uses_today(*, user_id: int, campaigns: list[Campaign], at: datetime) -> dict[int, int]:
    days = {campaign_local_day(c, at) for c in campaigns}
    counts: dict[tuple[int, object], int] = {}
    rows = (CampaignRedemption.objects.filter(user_id=user_id, reversed_at=None, local_day__in=days)
            .values("campaign_id", "local_day").annotate(n=Count("id")))
    for row in rows:
        counts[(row["campaign_id"], row["local_day"])] = row["n"]
    return {c.id: counts.get((c.id, campaign_local_day(c, at)), 0) for c in campaigns}


def discounts_available(*, user_id: int, cart_value: Decimal, delivery_charge: Decimal, explain: bool = False,
                        at: datetime | None = None) -> dict:
    at = at or timezone.now()
    campaigns = campaigns_customer_visible()
    segment_id = customer_segment_id(user_id=user_id)
    uses = customer_uses_today(user_id=user_id, campaigns=campaigns, at=at)
    evaluated: list[tuple[Campaign, Evaluation]] = [
        (c, campaign_evaluate(campaign=c, at=at, uses_today=uses[c.id], cart_value=cart_value,
                              delivery_charge=delivery_charge,
                              customer_targeted=campaign_targets_customer(campaign=c, user_id=user_id,
                                                                          segment_id=segment_id)))
        for c in campaigns
    ]
    applicable = sorted(((c, e) for c, e in evaluated if e.applies),
                        key=lambda ce: (-ce[1].discount, -ce[0].priority, ce[0].id))
    ids, total = best_combination(applicable, cart_value=cart_value, delivery_charge=delivery_charge)
    body = {
        "campaigns": [_describe(c, e) for c, e in applicable],
        "best_combination": {"campaign_ids": ids, "total_discount": str(total)},
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
