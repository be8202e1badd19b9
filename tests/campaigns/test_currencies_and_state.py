"""Carts carry a currency; campaigns in another one do not apply. A spent campaign says so."""
from decimal import Decimal

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.factories import bearer, customer


def settle(txn) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


@pytest.mark.django_db
def test_available_never_mixes_currencies(api_client):
    # given: what was observed, a 500 JPY flat discount ranked above 246.80 EUR
    user = customer()  # EUR account
    eur = CampaignFactory(kind="percentage", value=Decimal("20"), currency="EUR")
    jpy = CampaignFactory(value=Decimal("500"), currency="JPY", total_budget=Decimal("100000"))

    # when: the cart in the account's currency (default), then in yen
    default = api_client.post("/api/v1/discounts/available/?explain=true", {"cart_value": "1234.00"},
                              format="json", HTTP_AUTHORIZATION=bearer(user)).json()
    yen = api_client.post("/api/v1/discounts/available/", {"cart_value": "10000", "currency": "JPY"},
                          format="json", HTTP_AUTHORIZATION=bearer(user)).json()

    # then: each cart sees only its own currency's campaigns, and every amount says its currency
    assert default["currency"] == "EUR"
    assert [c["campaign_id"] for c in default["campaigns"]] == [eur.id]
    assert default["best_combination"] == {"campaign_ids": [eur.id], "total_discount": "246.80", "currency": "EUR"}
    assert {c["campaign_id"]: c["reasons"] for c in default["not_applicable"]}[jpy.id] == ["currency_mismatch"]
    assert [c["campaign_id"] for c in yen["campaigns"]] == [jpy.id]
    assert yen["best_combination"] == {"campaign_ids": [jpy.id], "total_discount": "500", "currency": "JPY"}


@pytest.mark.django_db
def test_a_redemption_in_another_currency_is_refused_at_settlement():
    user = customer()
    jpy = CampaignFactory(value=Decimal("500"), currency="JPY", total_budget=Decimal("100000"))
    txn = settle(pending_redemption(user, jpy, currency="EUR", order_reference="o"))
    assert txn.failure_code == "currency_mismatch"
    jpy.refresh_from_db()
    assert jpy.spent_amount == 0


@pytest.mark.django_db
def test_redeem_takes_the_account_currency_when_the_cart_names_none(api_client):
    user = customer()
    campaign = CampaignFactory()
    response = api_client.post("/api/v1/discounts/redeem/",
                               {"campaign_id": campaign.id, "cart_value": "40", "order_reference": "o-1"},
                               format="json", HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert txn.currency == txn.payload["currency"] == "EUR"


@pytest.mark.django_db
def test_a_spent_campaign_is_visibly_exhausted_and_not_listed_as_active(api_client):
    # given: a campaign whose budget one redemption uses up, and a running one
    staff, user = customer(is_staff=True), customer()
    spent = CampaignFactory(value=Decimal("10.00"), total_budget=Decimal("10.00"))
    used = CampaignFactory(value=Decimal("1.00"), max_total_uses=1)
    running = CampaignFactory()
    assert settle(pending_redemption(user, spent, order_reference="a")).status == "SUCCEEDED"
    assert settle(pending_redemption(user, used, order_reference="b")).status == "SUCCEEDED"

    # when
    listed = api_client.get("/api/v1/campaigns/?active_now=true", HTTP_AUTHORIZATION=bearer(staff)).json()
    detail = api_client.get(f"/api/v1/campaigns/{spent.id}/", HTTP_AUTHORIZATION=bearer(staff)).json()

    # then
    assert [c["id"] for c in listed["results"]] == [running.id]
    assert detail["state"] == "exhausted" and detail["status"] == "active"
    states = {c["id"]: c["state"] for c in
              api_client.get("/api/v1/campaigns/", HTTP_AUTHORIZATION=bearer(staff)).json()["results"]}
    assert states == {spent.id: "exhausted", used.id: "exhausted", running.id: "running"}


@pytest.mark.django_db
def test_redeem_requires_an_order_and_exactly_one_of_campaign_id_and_campaign_ids(api_client):
    user = customer()
    campaign = CampaignFactory()
    for body in ({"campaign_id": campaign.id, "cart_value": "40"},
                 {"campaign_id": campaign.id, "campaign_ids": [campaign.id], "cart_value": "40",
                  "order_reference": "o"},
                 {"campaign_ids": [campaign.id, campaign.id], "cart_value": "40", "order_reference": "o"},
                 {"campaign_ids": [], "cart_value": "40", "order_reference": "o"},
                 {"campaign_id": campaign.id, "cart_value": "40", "order_reference": "o", "currency": "XXX"}):
        response = api_client.post("/api/v1/discounts/redeem/", body, format="json", HTTP_AUTHORIZATION=bearer(user))
        assert response.status_code == 400, body
        assert set(response.json()) == {"code", "message", "details"}
    assert not Transaction.objects.exists()
