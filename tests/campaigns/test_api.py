from decimal import Decimal

import pytest

from activation.models import Transaction
from activation.services import transactions_settle
from offers.campaigns.models import Campaign
from offers.codes.models import CodePool
from offers.codes.services import brand_create, code_pool_create
from tests.campaigns.factories import CampaignFactory, pending_redemption, timezone_around_noon
from tests.factories import SegmentFactory, bearer, customer

pytestmark = pytest.mark.django_db

VALID = {"name": "Spring", "target": "cart", "kind": "percentage", "value": "15", "starts_on": "2026-03-01",
         "ends_on": "2026-03-31", "timezone": "America/Sao_Paulo", "total_budget": "500.00", "status": "active"}


@pytest.fixture
def staff():
    return customer(is_staff=True)


def test_staff_create_read_update_and_set_status(api_client, staff):
    # given
    auth = {"HTTP_AUTHORIZATION": bearer(staff)}
    SegmentFactory(slug="students")

    # when
    created = api_client.post("/api/v1/campaigns/", {**VALID, "is_targeted": True, "target_segments": ["students"]},
                              format="json", **auth)
    pk = created.json()["id"]
    detail = api_client.get(f"/api/v1/campaigns/{pk}/", **auth)
    patched = api_client.patch(f"/api/v1/campaigns/{pk}/", {"value": "20"}, format="json", **auth)
    paused = api_client.patch(f"/api/v1/campaigns/{pk}/status/", {"status": "paused"}, format="json", **auth)
    listed = api_client.get("/api/v1/campaigns/?status=paused&target=cart", **auth)

    # then
    assert created.status_code == 201, created.json()
    assert detail.json()["budget_remaining"] == "500.00" and detail.json()["redemption_count"] == 0
    assert detail.json()["target_segments"] == ["students"]
    assert patched.json()["value"] == "20.00"
    assert paused.json()["status"] == "paused"
    assert [c["id"] for c in listed.json()["results"]] == [pk]


def test_customers_get_403_on_campaign_management(api_client):
    auth = {"HTTP_AUTHORIZATION": bearer(customer())}
    assert api_client.get("/api/v1/campaigns/", **auth).status_code == 403
    assert api_client.post("/api/v1/campaigns/", VALID, format="json", **auth).status_code == 403
    assert Campaign.objects.count() == 0


def test_delete_is_refused_once_redemptions_exist(api_client, staff):
    auth = {"HTTP_AUTHORIZATION": bearer(staff)}
    unused, used = CampaignFactory(), CampaignFactory()
    transactions_settle(transaction_id=pending_redemption(customer(), used).id)
    assert api_client.delete(f"/api/v1/campaigns/{unused.id}/", **auth).status_code == 204
    refused = api_client.delete(f"/api/v1/campaigns/{used.id}/", **auth)
    assert refused.status_code == 409 and refused.json()["code"] == "campaign_has_redemptions"
    assert Campaign.objects.filter(pk=used.pk).exists()


def test_delete_is_refused_while_a_code_pool_carries_the_campaign(api_client, staff):
    # given: a campaign nobody has redeemed yet, carried by a code pool
    campaign = CampaignFactory(requires_code=True)
    pool = code_pool_create(brand=brand_create(name="Acme"), name="Launch", total_count=2)
    pool.campaign = campaign
    pool.save(update_fields=["campaign"])

    # when
    refused = api_client.delete(f"/api/v1/campaigns/{campaign.id}/", HTTP_AUTHORIZATION=bearer(staff))

    # then: a 409 in the error shape (it was a 500), the campaign and its pool untouched
    assert refused.status_code == 409 and refused.json()["code"] == "campaign_in_use"
    assert CodePool.objects.get(pk=pool.pk).campaign_id == campaign.id


@pytest.mark.parametrize("change,field", [
    ({"value": "150"}, "value"),
    ({"value": "0"}, "value"),
    ({"value": "-5"}, "value"),
    ({"ends_on": "2026-02-01"}, "ends_on"),
    ({"total_budget": "0"}, "total_budget"),
    ({"timezone": "Mars/Base"}, "timezone"),
    ({"target": "basket"}, "target"),
    ({"value": "abc"}, "value"),
    ({"total_budget": "1e30"}, "total_budget"),
    ({"spent_amount": "0"}, "spent_amount"),
    ({"unknown": 1}, "unknown"),
])
def test_invalid_campaigns_are_400_and_nothing_is_written(api_client, staff, change, field):
    response = api_client.post("/api/v1/campaigns/", {**VALID, **change}, format="json",
                               HTTP_AUTHORIZATION=bearer(staff))
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and field in response.json()["details"]
    assert Campaign.objects.count() == 0


def test_available_lists_best_first_with_the_best_combination_and_explains(api_client):
    # given
    user = customer()
    big = CampaignFactory(kind="percentage", value=Decimal("20"), name="big")            # 20.00 exclusive
    small = CampaignFactory(value=Decimal("5.00"), name="small")                          # 5.00 exclusive
    stack_a = CampaignFactory(value=Decimal("12.00"), is_stackable=True, name="a")       # 12 stackable
    stack_b = CampaignFactory(value=Decimal("3.00"), is_stackable=True, target="delivery", name="b")
    paused = CampaignFactory(status="paused")
    min_cart = CampaignFactory(min_cart_value=Decimal("500"))

    # when
    response = api_client.post("/api/v1/discounts/available/?explain=true",
                               {"cart_value": "100.00", "delivery_charge": "8.00"}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))

    # then: 12 + 3 stacked (15) loses to the single exclusive 20
    body = response.json()
    assert [c["campaign_id"] for c in body["campaigns"]] == [big.id, stack_a.id, small.id, stack_b.id]
    assert body["best_combination"] == {"campaign_ids": [big.id], "total_discount": "20.00", "currency": "EUR"}
    reasons = {c["campaign_id"]: c["reasons"] for c in body["not_applicable"]}
    assert reasons == {paused.id: ["paused"], min_cart.id: ["below_min_cart_value"]}


def test_available_reflects_a_campaign_change_at_once(api_client, django_capture_on_commit_callbacks):
    # given: a cached answer
    user, staff = customer(), customer(is_staff=True)
    campaign = CampaignFactory(value=Decimal("7.00"))
    ask = lambda: api_client.post("/api/v1/discounts/available/?explain=true", {"cart_value": "50"}, format="json",  # noqa: E731
                                  HTTP_AUTHORIZATION=bearer(user)).json()
    assert ask()["campaigns"][0]["discount"] == "7.00"

    # when: staff pause it (and the commit hooks run, as they would outside the test transaction)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch(f"/api/v1/campaigns/{campaign.id}/status/", {"status": "paused"}, format="json",
                         HTTP_AUTHORIZATION=bearer(staff))

    # then
    assert ask()["campaigns"] == []
    assert ask()["not_applicable"][0]["reasons"] == ["paused"]


def test_available_explains_budget_daily_limit_and_targeting(api_client):
    user = customer()
    exhausted = CampaignFactory(total_budget=Decimal("10.00"), spent_amount=Decimal("10.00"))
    # used up today: in a zone where it is midday, so the redemption and the question are the same day
    limited = CampaignFactory(max_uses_per_customer_per_day=1, timezone=timezone_around_noon())
    transactions_settle(transaction_id=pending_redemption(user, limited).id)
    targeted = CampaignFactory(is_targeted=True)
    body = api_client.post("/api/v1/discounts/available/?explain=1", {"cart_value": "50"}, format="json",
                           HTTP_AUTHORIZATION=bearer(user)).json()
    reasons = {c["campaign_id"]: c["reasons"] for c in body["not_applicable"]}
    assert reasons[exhausted.id] == ["budget_exhausted"]
    assert reasons[limited.id] == ["daily_limit_reached"]
    assert reasons[targeted.id] == ["not_targeted"]


def test_redeem_is_accepted_and_usage_lists_only_mine(api_client):
    # given
    user, other, staff = customer(), customer(), customer(is_staff=True)
    campaign = CampaignFactory()
    response = api_client.post("/api/v1/discounts/redeem/", {"campaign_id": campaign.id, "cart_value": "40", "order_reference": "order-1"},
                               format="json", HTTP_AUTHORIZATION=bearer(user))
    transactions_settle(transaction_id=response.json()["transaction_id"])

    # when
    mine = api_client.get("/api/v1/discounts/usage/", HTTP_AUTHORIZATION=bearer(user)).json()
    theirs = api_client.get("/api/v1/discounts/usage/", HTTP_AUTHORIZATION=bearer(other)).json()
    as_staff = api_client.get(f"/api/v1/discounts/usage/?customer={user.id}&campaign={campaign.id}",
                              HTTP_AUTHORIZATION=bearer(staff)).json()

    # then
    assert response.status_code == 202
    assert Transaction.objects.get(pk=response.json()["transaction_id"]).result["discount"] == "10.00"
    assert mine["count"] == 1 and theirs["count"] == 0 and as_staff["count"] == 1


@pytest.mark.parametrize("body", [
    {"campaign_id": 1, "cart_value": "-1"},
    {"campaign_id": 999999, "cart_value": "10"},
    {"campaign_id": "x", "cart_value": "10"},
    {"campaign_id": 1, "cart_value": "ten"},
    {"campaign_id": 1, "cart_value": "10.001"},
    {"campaign_id": 1, "cart_value": "10", "delivery_charge": "-2"},
    {"campaign_id": 1},
    {"campaign_id": 1, "cart_value": "10", "order_reference": "bad ref with spaces"},
])
def test_bad_redemptions_are_400_and_nothing_is_written(api_client, body):
    campaign = CampaignFactory()
    if body.get("campaign_id") == 1:
        body = {**body, "campaign_id": campaign.id}
    response = api_client.post("/api/v1/discounts/redeem/", body, format="json", HTTP_AUTHORIZATION=bearer(customer()))
    assert response.status_code == 400, response.json()
    assert set(response.json()) == {"code", "message", "details"}
    assert Transaction.objects.count() == 0


def test_bad_available_requests_are_400(api_client):
    auth = {"HTTP_AUTHORIZATION": bearer(customer())}
    assert api_client.post("/api/v1/discounts/available/", {"cart_value": "-5"}, format="json", **auth).status_code == 400
    assert api_client.post("/api/v1/discounts/available/", {}, format="json", **auth).status_code == 400
    assert api_client.post("/api/v1/discounts/available/?explain=maybe", {"cart_value": "5"}, format="json",
                           **auth).status_code == 400
