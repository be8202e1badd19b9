import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.campaigns.models import Campaign, CampaignRedemption
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.factories import OfferFactory, SegmentFactory, bearer, customer
from tests.helpers import assert_ledger_matches_balance, wait_until_terminal


def settle(txn) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def assert_budget_consistent(campaign: Campaign) -> None:
    campaign.refresh_from_db()
    live = CampaignRedemption.objects.filter(campaign=campaign, reversed_at=None)
    assert campaign.spent_amount == (live.aggregate(s=Sum("amount"))["s"] or 0)
    assert campaign.uses_count == live.count()
    assert 0 <= campaign.spent_amount <= campaign.total_budget


@pytest.mark.e2e
@pytest.mark.concurrency
def test_200_parallel_redemptions_by_50_customers_on_a_budget_for_37(live_stack):
    # given: a flat 10.00 discount and a budget of exactly 37 of them
    web, _ = live_stack
    campaign = CampaignFactory(value=Decimal("10.00"), total_budget=Decimal("370.00"))
    tokens = [bearer(customer()) for _ in range(50)]

    # when: 200 redemptions at once through the real web server and worker
    def redeem(i):
        return requests.post(f"{web.url}/api/v1/discounts/redeem/", headers={"Authorization": tokens[i % 50]},
                             json={"campaign_id": campaign.id, "cart_value": "80.00", "delivery_charge": "5.00",
                                   "order_reference": f"order-{i}"})

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(redeem, range(200)))
    assert {r.status_code for r in responses} == {202}
    txns = wait_until_terminal([r.json()["transaction_id"] for r in responses], timeout=120)

    # then
    assert sum(t.status == "SUCCEEDED" for t in txns) == 37
    assert sum(t.failure_code == "budget_exhausted" for t in txns) == 163
    campaign.refresh_from_db()
    assert campaign.spent_amount == Decimal("370.00") == 37 * Decimal("10.00")
    assert_budget_consistent(campaign)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_one_customer_20_parallel_redemptions_with_daily_limit_2():
    # given: all asked at the same moment (rows created one by one could straddle midnight)
    user = customer()
    campaign = CampaignFactory(max_uses_per_customer_per_day=2)
    at = timezone.now()
    txns = [pending_redemption(user, campaign, created_at=at) for _ in range(20)]
    barrier = threading.Barrier(20)

    def run(txn):
        try:
            barrier.wait()
            transactions_settle(transaction_id=txn.id, batch_size=1)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run, args=(t,)) for t in txns]
    [t.start() for t in threads]
    [t.join() for t in threads]

    # then
    final = wait_until_terminal([t.pk for t in txns])
    assert sorted((t.status, t.failure_code) for t in final) == (
        [("FAILED", "daily_limit_reached")] * 18 + [("SUCCEEDED", "")] * 2)
    assert_budget_consistent(campaign)


@pytest.mark.django_db
def test_the_day_boundary_is_the_campaigns_local_midnight():
    # given: Sao Paulo (UTC-3), one use a day; requests at 23:59 and 00:01 local time
    tz = ZoneInfo("America/Sao_Paulo")
    user = customer()
    campaign = CampaignFactory(timezone="America/Sao_Paulo", max_uses_per_customer_per_day=1,
                               starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 10))
    late = datetime(2026, 3, 5, 23, 59, tzinfo=tz)
    early_next = datetime(2026, 3, 6, 0, 1, tzinfo=tz)

    # when
    first = settle(pending_redemption(user, campaign, created_at=late))
    second = settle(pending_redemption(user, campaign, created_at=early_next))
    third = settle(pending_redemption(user, campaign, created_at=early_next + timedelta(minutes=5)))

    # then: 23:59 and 00:01 are different days (in UTC both are 5 March... and 6 March 03:01)
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert (third.status, third.failure_code) == ("FAILED", "daily_limit_reached")


@pytest.mark.django_db
def test_a_campaign_ending_today_runs_until_local_midnight():
    tz = ZoneInfo("America/Sao_Paulo")
    user = customer()
    campaign = CampaignFactory(timezone="America/Sao_Paulo", starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 10))
    # 23:30 local on the last day is already 02:30 UTC on the 11th
    last_minutes = settle(pending_redemption(user, campaign, created_at=datetime(2026, 3, 10, 23, 30, tzinfo=tz)))
    after = settle(pending_redemption(user, campaign, created_at=datetime(2026, 3, 11, 0, 0, 30, tzinfo=tz)))
    before = settle(pending_redemption(user, campaign, created_at=datetime(2026, 2, 28, 23, 59, tzinfo=tz)))
    assert last_minutes.status == "SUCCEEDED"
    assert (after.status, after.failure_code) == ("FAILED", "ended")
    assert (before.status, before.failure_code) == ("FAILED", "not_started")


@pytest.mark.django_db
def test_targeting_by_customer_list_and_by_segment_both_ways():
    # given
    vip = SegmentFactory(slug="vip")
    listed, in_segment, outsider = customer(), customer(segment=vip), customer()
    by_list = CampaignFactory(is_targeted=True)
    by_list.target_customers.set([listed])
    by_segment = CampaignFactory(is_targeted=True)
    by_segment.target_segments.set([vip])

    # when / then
    assert settle(pending_redemption(listed, by_list)).status == "SUCCEEDED"
    assert settle(pending_redemption(outsider, by_list)).failure_code == "not_targeted"
    assert settle(pending_redemption(in_segment, by_segment)).status == "SUCCEEDED"
    assert settle(pending_redemption(outsider, by_segment)).failure_code == "not_targeted"
    assert settle(pending_redemption(listed, by_segment)).failure_code == "not_targeted"


@pytest.mark.django_db
def test_below_min_cart_value_and_paused_are_refused():
    user = customer()
    assert settle(pending_redemption(user, CampaignFactory(min_cart_value=Decimal("50")),
                                     cart_value="49.99")).failure_code == "below_min_cart_value"
    assert settle(pending_redemption(user, CampaignFactory(status="paused"))).failure_code == "paused"


@pytest.mark.django_db
def test_staff_reversal_restores_budget_and_daily_usage_and_is_idempotent(api_client):
    # given: the daily limit is used up (every redemption asked at one moment, so no midnight
    # can fall between them)
    user, staff = customer(), customer(is_staff=True)
    campaign = CampaignFactory(max_uses_per_customer_per_day=1, value=Decimal("10.00"))
    at = timezone.now()
    txn = settle(pending_redemption(user, campaign, created_at=at))
    assert settle(pending_redemption(user, campaign, created_at=at)).failure_code == "daily_limit_reached"

    # when: reversed twice over the API by staff
    first = api_client.post(f"/api/v1/account/transactions/{txn.id}/reverse/", HTTP_AUTHORIZATION=bearer(staff))
    second = api_client.post(f"/api/v1/account/transactions/{txn.id}/reverse/", HTTP_AUTHORIZATION=bearer(staff))

    # then
    assert first.status_code == second.status_code == 200
    assert first.json()["transaction_id"] == second.json()["transaction_id"]
    txn.refresh_from_db()
    assert txn.status == "REVERSED"
    campaign.refresh_from_db()
    assert campaign.spent_amount == Decimal("0.00") and campaign.uses_count == 0
    assert_budget_consistent(campaign)
    assert settle(pending_redemption(user, campaign, created_at=at)).status == "SUCCEEDED"


@pytest.mark.django_db
def test_a_customer_reversing_their_own_redemptions_never_beats_the_daily_limit(api_client):
    # given: a limit of 2 a day
    user = customer()
    campaign = CampaignFactory(max_uses_per_customer_per_day=2, value=Decimal("10.00"))
    at = timezone.now()

    # when: redeem, reverse it themselves, again and again
    granted = 0
    for _ in range(5):
        txn = settle(pending_redemption(user, campaign, created_at=at))
        if txn.status == "SUCCEEDED":
            granted += 1
            response = api_client.post(f"/api/v1/account/transactions/{txn.id}/reverse/",
                                       HTTP_AUTHORIZATION=bearer(user))
            assert response.status_code == 200

    # then: two discounts that day, not five; the budget came back each time
    assert granted == 2
    assert settle(pending_redemption(user, campaign, created_at=at)).failure_code == "daily_limit_reached"
    campaign.refresh_from_db()
    assert campaign.spent_amount == Decimal("0.00") and campaign.uses_count == 0
    assert_budget_consistent(campaign)


@pytest.mark.django_db
def test_only_the_owner_or_staff_may_reverse_and_only_a_succeeded_transaction(api_client):
    owner, other = customer(), customer()
    staff = customer(is_staff=True)
    campaign = CampaignFactory(total_budget=Decimal("10.00"))
    ok = settle(pending_redemption(owner, campaign))
    failed = settle(pending_redemption(owner, campaign))
    assert api_client.post(f"/api/v1/account/transactions/{ok.id}/reverse/",
                           HTTP_AUTHORIZATION=bearer(other)).status_code == 404
    refused = api_client.post(f"/api/v1/account/transactions/{failed.id}/reverse/", HTTP_AUTHORIZATION=bearer(owner))
    assert refused.status_code == 409 and refused.json()["code"] == "not_reversible"
    assert api_client.post(f"/api/v1/account/transactions/{ok.id}/reverse/",
                           HTTP_AUTHORIZATION=bearer(staff)).status_code == 200


@pytest.mark.django_db
def test_activation_with_a_campaign_debits_the_discounted_price_and_consumes_budget(api_client):
    # given
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("30.00"))
    campaign = CampaignFactory(kind="percentage", value=Decimal("20"))

    # when
    response = api_client.post("/api/v1/activation/", {"offer_id": offer.id, "campaign_id": campaign.id},
                               format="json", HTTP_AUTHORIZATION=bearer(user))
    transactions_settle(transaction_id=response.json()["transaction_id"])

    # then
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert txn.status == "SUCCEEDED"
    assert txn.result["amount_charged"] == "24.00" and txn.result["discount"] == "6.00"
    assert assert_ledger_matches_balance(user) == Decimal("76.00")
    campaign.refresh_from_db()
    assert campaign.spent_amount == Decimal("6.00")


@pytest.mark.django_db
def test_activation_with_a_campaign_and_a_short_balance_changes_neither():
    user = customer(balance="20.00")
    offer = OfferFactory(price=Decimal("30.00"))
    campaign = CampaignFactory(kind="percentage", value=Decimal("20"))
    txn = Transaction.objects.create(kind="offer_activation", user=user, amount=offer.price, currency="EUR",
                                     payload={"offer_id": offer.id, "campaign_id": campaign.id})
    settle(txn)
    assert (txn.status, txn.failure_code) == ("FAILED", "insufficient_balance")
    assert assert_ledger_matches_balance(user) == Decimal("20.00")
    campaign.refresh_from_db()
    assert campaign.spent_amount == 0 and not CampaignRedemption.objects.exists()
