"""Each campaign rule on each path that reaches it: a single redemption, a redemption inside a
batch, an activation with a campaign, and `available`. The rule lives in one function
(rules.campaign_evaluate); each path computes its inputs (usage, targeting, order), so each
path is tested on its own: leaving a check out of any one path turns its row red."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from activation.models import Transaction
from activation.services import transactions_settle
from offers.campaigns.models import Campaign
from offers.services import KIND_OFFER_ACTIVATION
from tests.campaigns.factories import CampaignFactory, pending_redemption, timezone_around_noon
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db
TODAY = date.today()
ORDER = "order-under-test"


def _prior_redemption(user, campaign, **kw):
    txn = pending_redemption(user, campaign, **kw)
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    assert txn.status == "SUCCEEDED", txn.failure_code


# rule -> (campaign fields, setup(user, campaign) run before the path, paths it reaches)
ALL = ("single", "batch", "activation", "available")
REDEEM = ("single", "batch", "available")
RULES = {
    "not_started": ({"starts_on": TODAY + timedelta(days=5), "ends_on": TODAY + timedelta(days=9)}, None, ALL),
    "ended": ({"starts_on": TODAY - timedelta(days=9), "ends_on": TODAY - timedelta(days=3)}, None, ALL),
    "paused": ({"status": "paused"}, None, ALL),
    "budget_exhausted": ({"total_budget": Decimal("10.00"), "spent_amount": Decimal("10.00")}, None, ALL),
    "usage_limit_reached": ({"max_total_uses": 1, "uses_count": 1}, None, ALL),
    "currency_mismatch": ({"currency": "JPY", "value": Decimal("500"), "total_budget": Decimal("100000")}, None, ALL),
    "below_min_cart_value": ({"min_cart_value": Decimal("1000.00")}, None, ALL),
    "daily_limit_reached": ({"max_uses_per_customer_per_day": 1},
                            lambda user, campaign: _prior_redemption(user, campaign, order_reference="earlier"), ALL),
    "not_targeted": ({"is_targeted": True}, None, ALL),
    "already_in_order": ({"is_stackable": True},
                         lambda user, campaign: _prior_redemption(user, campaign, order_reference=ORDER), REDEEM),
    "not_combinable": ({}, lambda user, campaign: _prior_redemption(user, CampaignFactory(is_stackable=True),
                                                                    order_reference=ORDER), REDEEM),
    "order_cart_mismatch": ({"is_stackable": True},
                            lambda user, campaign: _prior_redemption(user, CampaignFactory(is_stackable=True),
                                                                     order_reference=ORDER, cart_value="55.00"),
                            REDEEM),
    "nothing_to_discount": ({"is_stackable": True},
                            lambda user, campaign: _prior_redemption(
                                user, CampaignFactory(is_stackable=True, value=Decimal("100.00")),
                                order_reference=ORDER), REDEEM),
}


def _reasons_single(user, campaign, api_client) -> list[str]:
    txn = pending_redemption(user, campaign, order_reference=ORDER, currency="EUR")
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn.result.get("reasons", [])


def _reasons_batch(user, campaign, api_client) -> list[str]:
    # the item under test between two others that succeed, all in one batch
    other = CampaignFactory(is_stackable=True, timezone=campaign.timezone)
    others = [customer(), customer()]
    txns = [pending_redemption(others[0], other, order_reference="x"),
            pending_redemption(user, campaign, order_reference=ORDER, currency="EUR"),
            pending_redemption(others[1], other, order_reference="y")]
    finished = transactions_settle(transaction_id=txns[0].id, batch_size=10)
    assert len(finished) == 3
    rows = {t.id: t for t in Transaction.objects.filter(pk__in=[t.id for t in txns])}
    assert rows[txns[0].id].status == rows[txns[2].id].status == "SUCCEEDED"
    return rows[txns[1].id].result.get("reasons", [])


def _reasons_activation(user, campaign, api_client) -> list[str]:
    offer = OfferFactory(price=Decimal("100.00"), currency="EUR")
    txn = Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, amount=offer.price, currency="EUR",
                                     payload={"offer_id": offer.id, "campaign_id": campaign.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn.failure_message.split(", ") if txn.status == "FAILED" else []


def _reasons_available(user, campaign, api_client) -> list[str]:
    body = api_client.post("/api/v1/discounts/available/?explain=true",
                           {"cart_value": "100.00", "order_reference": ORDER}, format="json",
                           HTTP_AUTHORIZATION=bearer(user)).json()
    return {c["campaign_id"]: c["reasons"] for c in body["not_applicable"]}.get(campaign.id, [])


PATHS = {"single": _reasons_single, "batch": _reasons_batch, "activation": _reasons_activation,
         "available": _reasons_available}


@pytest.mark.parametrize("rule,path", [(rule, path) for rule, (_, _, paths) in RULES.items() for path in paths])
def test_each_rule_refuses_on_each_path(rule, path, api_client):
    # given: a campaign that breaks exactly this rule for this customer, in a zone where it is
    # about noon (no midnight between the steps), and the account funded for an activation
    fields, setup, _ = RULES[rule]
    user = customer(balance="200.00")
    campaign = CampaignFactory(timezone=timezone_around_noon(), **fields)
    if rule == "not_targeted":
        campaign.target_customers.set([customer()])
    if setup:
        setup(user, campaign)

    # when
    reasons = PATHS[path](user, campaign, api_client)

    # then
    assert rule in reasons, f"{path} did not refuse {rule}: {reasons}"
    if path != "available":
        campaign.refresh_from_db()
        assert Campaign.objects.get(pk=campaign.pk).spent_amount == campaign.spent_amount


@pytest.mark.parametrize("path", ALL)
def test_a_campaign_breaking_no_rule_is_granted_on_each_path(path, api_client):
    user = customer(balance="200.00")
    campaign = CampaignFactory(timezone=timezone_around_noon(), is_targeted=True, max_uses_per_customer_per_day=1,
                               min_cart_value=Decimal("50.00"))
    campaign.target_customers.set([user])
    assert PATHS[path](user, campaign, api_client) == []
