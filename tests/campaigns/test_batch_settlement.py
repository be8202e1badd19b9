"""The batch settler of redemptions (`settle_batch`) decides exactly as settling one at a time."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.campaigns.models import Campaign, CampaignRedemption
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.factories import SegmentFactory, customer

pytestmark = pytest.mark.django_db


def world(tag: str, start) -> list[Transaction]:
    """Two campaigns with every rule that reads more than the campaign row (targeting by list
    and segment, daily limit, budget, total uses, min cart value, cap), and 40 redemptions
    by 6 customers that run into each rule, written in a fixed order from `start`."""
    vip = SegmentFactory(slug=f"vip-{tag}")
    customers = [customer(segment=vip if i % 3 == 0 else None) for i in range(6)]
    targeted = CampaignFactory(is_targeted=True, value=Decimal("7.00"), total_budget=Decimal("70.00"),
                               max_uses_per_customer_per_day=2)
    targeted.target_customers.set([customers[1]])
    targeted.target_segments.set([vip])
    percentage = CampaignFactory(kind=Campaign.Kind.PERCENTAGE, value=Decimal("15"), max_discount_amount=Decimal("9.00"),
                                 min_cart_value=Decimal("20.00"), total_budget=Decimal("1000.00"), max_total_uses=11)
    txns = []
    for i in range(40):
        campaign = targeted if i % 2 else percentage
        txns.append(pending_redemption(customers[i % 6], campaign, cart_value=f"{10 + 7 * i}.00",
                                       created_at=start + timedelta(milliseconds=i)))
    return txns


def decisions(txns: list[Transaction]) -> list[tuple]:
    rows = {t.pk: t for t in Transaction.objects.filter(pk__in=[t.pk for t in txns])}
    return [(rows[t.pk].status, rows[t.pk].failure_code, rows[t.pk].result.get("discount")) for t in txns]


def test_a_batch_decides_every_rule_exactly_as_one_at_a_time():
    # given: the same world twice, at the same moments: yesterday noon UTC, far from the daily
    # limit's midnight (each world reading its own clock, one could straddle it and the other not)
    start = (timezone.now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    one_by_one, batched = world("a", start), world("b", start)

    # when: one settled item per call, the other in a single batch
    for txn in one_by_one:
        transactions_settle(transaction_id=txn.id, batch_size=1)
    finished = transactions_settle(transaction_id=batched[0].id, batch_size=100)

    # then: identical decisions, and every rule was exercised
    assert len(finished) == 40
    assert decisions(batched) == decisions(one_by_one)
    codes = {code for _, code, _ in decisions(batched)}
    assert {"", "not_targeted", "daily_limit_reached", "below_min_cart_value", "usage_limit_reached"} <= codes
    for campaign in Campaign.objects.all():
        live = CampaignRedemption.objects.filter(campaign=campaign, reversed_at=None)
        assert campaign.spent_amount == (live.aggregate(s=Sum("amount"))["s"] or 0) <= campaign.total_budget
        assert campaign.uses_count == live.count()


def test_a_batch_stops_exactly_at_the_budget():
    # given: a budget for 3.5 discounts and 10 pending redemptions
    campaign = CampaignFactory(value=Decimal("10.00"), total_budget=Decimal("35.00"))
    txns = [pending_redemption(customer(), campaign) for _ in range(10)]

    # when
    transactions_settle(transaction_id=txns[0].id, batch_size=50)

    # then: three full discounts, one partial (what is left), then refusals
    assert [d for _, _, d in decisions(txns)][:5] == ["10.00", "10.00", "10.00", "5.00", None]
    assert [c for _, c, _ in decisions(txns)][4:] == ["budget_exhausted"] * 6
    campaign.refresh_from_db()
    assert (campaign.spent_amount, campaign.uses_count) == (Decimal("35.00"), 4)


def test_a_deleted_campaign_fails_its_items_and_not_the_batch():
    # given
    user = customer()
    live_campaign = CampaignFactory()
    gone = pending_redemption(user, live_campaign)
    gone.payload = {**gone.payload, "campaign_ids": [999_999]}
    gone.save(update_fields=["payload"])
    ok = pending_redemption(user, live_campaign)

    # when
    transactions_settle(transaction_id=gone.id, batch_size=10)

    # then
    assert decisions([gone, ok]) == [("FAILED", "unknown_campaign", None), ("SUCCEEDED", "", "10.00")]
