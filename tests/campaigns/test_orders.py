"""Orders: within one order a campaign applies once, a non-stackable campaign stands alone,
every redemption states the same cart, and the discounts never exceed what they discount.
A combination is one transaction that succeeds or fails whole."""
from decimal import Decimal

import pytest
from django.db.models import Sum

from activation.models import Transaction
from activation.services import transactions_settle
from offers.campaigns.models import Campaign, CampaignRedemption
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.factories import bearer, customer
from tests.helpers import run_at_once, wait_until_terminal


def settle(txn) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def order_total(user, reference: str, target: str = "cart") -> Decimal:
    return (CampaignRedemption.objects.filter(user=user, order_reference=reference, reversed_at=None,
                                              campaign__target=target)
            .aggregate(s=Sum("amount"))["s"] or Decimal("0"))


def assert_counters_match_redemptions() -> None:
    for campaign in Campaign.objects.all():
        live = CampaignRedemption.objects.filter(campaign=campaign, reversed_at=None)
        assert campaign.spent_amount == (live.aggregate(s=Sum("amount"))["s"] or 0) <= campaign.total_budget
        assert campaign.uses_count == live.count()


@pytest.mark.django_db
def test_one_order_takes_one_non_stackable_campaign_once_and_never_more_than_the_cart():
    # given: three exclusive campaigns worth 40, 35 and 25 of a 100.00 cart (what was observed:
    # all three, one of them twice, on one order: 100.00 of discount)
    user = customer()
    a, b, c = (CampaignFactory(value=Decimal(v)) for v in ("40.00", "35.00", "25.00"))

    # when: one after the other on the same order
    results = [settle(pending_redemption(user, campaign, order_reference="order-1")) for campaign in (a, b, a, c)]

    # then: only the first
    assert [r.status for r in results] == ["SUCCEEDED", "FAILED", "FAILED", "FAILED"]
    assert [r.failure_code for r in results[1:]] == ["not_combinable", "already_in_order", "not_combinable"]
    assert order_total(user, "order-1") == Decimal("40.00")
    # another order of the same customer is a fresh start
    assert settle(pending_redemption(user, b, order_reference="order-2")).status == "SUCCEEDED"
    assert_counters_match_redemptions()


@pytest.mark.django_db
def test_stackable_campaigns_add_up_to_the_cart_value_and_no_further():
    # given: stackable 70 and 50 on a 100.00 cart, and a stackable delivery discount
    user = customer()
    seventy, fifty = CampaignFactory(value=Decimal("70.00"), is_stackable=True), \
        CampaignFactory(value=Decimal("50.00"), is_stackable=True)
    delivery = CampaignFactory(value=Decimal("9.00"), is_stackable=True, target="delivery")
    exclusive = CampaignFactory(value=Decimal("5.00"))

    # when
    first = settle(pending_redemption(user, seventy, order_reference="o", delivery_charge="6.00"))
    second = settle(pending_redemption(user, fifty, order_reference="o", delivery_charge="6.00"))
    third = settle(pending_redemption(user, delivery, order_reference="o", delivery_charge="6.00"))
    fourth = settle(pending_redemption(user, exclusive, order_reference="o", delivery_charge="6.00"))

    # then: the second gets what is left of the cart, the delivery one at most the charge
    assert (first.result["discount"], second.result["discount"], third.result["discount"]) == ("70.00", "30.00", "6.00")
    assert fourth.failure_code == "not_combinable"
    assert order_total(user, "o") == Decimal("100.00")
    assert order_total(user, "o", "delivery") == Decimal("6.00")
    # the cart is full: a further stackable campaign has nothing left to discount
    more = CampaignFactory(value=Decimal("1.00"), is_stackable=True)
    assert settle(pending_redemption(user, more, order_reference="o", delivery_charge="6.00")).failure_code == \
        "nothing_to_discount"


@pytest.mark.django_db
def test_every_redemption_of_an_order_states_the_same_cart():
    user = customer()
    a, b = CampaignFactory(is_stackable=True), CampaignFactory(is_stackable=True)
    assert settle(pending_redemption(user, a, order_reference="o", cart_value="100.00")).status == "SUCCEEDED"
    assert settle(pending_redemption(user, b, order_reference="o", cart_value="1000.00")).failure_code == \
        "order_cart_mismatch"


@pytest.mark.django_db
def test_a_combination_is_one_transaction_that_succeeds_or_fails_whole():
    # given
    user = customer()
    cart, delivery = CampaignFactory(value=Decimal("10.00"), is_stackable=True), \
        CampaignFactory(value=Decimal("4.00"), is_stackable=True, target="delivery")
    paused = CampaignFactory(value=Decimal("3.00"), is_stackable=True, status="paused")

    # when: a combination with a paused campaign, then without it
    refused = settle(pending_redemption(user, campaigns=[cart, delivery, paused], order_reference="o",
                                        delivery_charge="5.00"))
    granted = settle(pending_redemption(user, campaigns=[cart, delivery], order_reference="o",
                                        delivery_charge="5.00"))

    # then: nothing of the first, both of the second under one transaction
    assert refused.status == "FAILED" and refused.failure_code == "paused"
    assert refused.result == {"campaign_id": paused.id, "reasons": ["paused"]}
    assert granted.status == "SUCCEEDED" and granted.result["discount"] == "14.00"
    assert [r["campaign_id"] for r in granted.result["redemptions"]] == [cart.id, delivery.id]
    assert CampaignRedemption.objects.filter(transaction=granted).count() == 2
    assert not CampaignRedemption.objects.filter(transaction=refused).exists()
    assert_counters_match_redemptions()


@pytest.mark.django_db
def test_a_combination_of_two_exclusive_campaigns_is_refused_whole():
    user = customer()
    a, b = CampaignFactory(value=Decimal("10.00")), CampaignFactory(value=Decimal("5.00"))
    txn = settle(pending_redemption(user, campaigns=[a, b], order_reference="o"))
    assert txn.failure_code == "not_combinable"
    assert not CampaignRedemption.objects.exists()
    assert Campaign.objects.filter(spent_amount__gt=0).count() == 0


@pytest.mark.django_db
def test_a_reversed_redemption_leaves_the_order_free_for_another_campaign():
    user, staff = customer(), customer(is_staff=True)
    a, b = CampaignFactory(value=Decimal("10.00")), CampaignFactory(value=Decimal("20.00"))
    first = settle(pending_redemption(user, a, order_reference="o"))
    from activation.services import transaction_reverse
    transaction_reverse(transaction_id=first.id, requested_by_id=staff.id, as_staff=True)
    assert settle(pending_redemption(user, b, order_reference="o")).status == "SUCCEEDED"
    assert order_total(user, "o") == Decimal("20.00")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_redemptions_on_one_order_cannot_slip_past_each_other():
    # given: one customer's order with a 100.00 cart; exclusive campaigns (one asked for four
    # times), and stackable ones that together are worth far more than the cart
    user = customer()
    exclusive = [CampaignFactory(value=Decimal("40.00")) for _ in range(3)]
    stackable = [CampaignFactory(value=Decimal("30.00"), is_stackable=True) for _ in range(6)]
    txns = ([pending_redemption(user, exclusive[0], order_reference="excl") for _ in range(4)]
            + [pending_redemption(user, c, order_reference="excl") for c in exclusive[1:]]
            + [pending_redemption(user, c, order_reference="stack") for c in stackable for _ in range(2)])

    # when: every redemption settled at once, each by its own thread and connection
    run_at_once(lambda txn: transactions_settle(transaction_id=txn.id, batch_size=1), [(t,) for t in txns])

    # then: one exclusive redemption on its order; each stackable campaign at most once, and
    # the stacked total exactly the cart (never more)
    final = {t.id: t for t in wait_until_terminal([t.id for t in txns])}
    assert sum(final[t.id].status == "SUCCEEDED" for t in txns[:6]) == 1
    assert order_total(user, "excl") == Decimal("40.00")
    stacked = CampaignRedemption.objects.filter(order_reference="stack", reversed_at=None)
    assert len({r.campaign_id for r in stacked}) == stacked.count()
    assert order_total(user, "stack") == Decimal("100.00")
    assert_counters_match_redemptions()


@pytest.mark.e2e
@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_redemptions_of_one_order_over_http_grant_one_exclusive_campaign(live_stack):
    import requests
    from concurrent.futures import ThreadPoolExecutor

    # given
    web, _ = live_stack
    user = customer()
    campaigns = [CampaignFactory(value=Decimal("60.00")) for _ in range(4)]
    headers = {"Authorization": bearer(user)}

    # when: 16 redemptions of one order, 4 per campaign, at once
    def redeem(i):
        return requests.post(f"{web.url}/api/v1/discounts/redeem/", headers=headers,
                             json={"campaign_id": campaigns[i % 4].id, "cart_value": "100.00",
                                   "order_reference": "checkout-77"})

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(redeem, range(16)))
    assert {r.status_code for r in responses} == {202}
    txns = wait_until_terminal([r.json()["transaction_id"] for r in responses], timeout=120)

    # then
    assert sum(t.status == "SUCCEEDED" for t in txns) == 1
    assert order_total(user, "checkout-77") == Decimal("60.00")
    assert_counters_match_redemptions()
