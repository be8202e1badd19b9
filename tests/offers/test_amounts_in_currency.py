"""An amount is a whole number of its currency's minor units (accounts.money.money_fractions):
a JPY price of 100.50 or a promo at 0.40 JPY is refused with a 400 (or a form error in the
admin) and nothing is written, on every path that writes one: offers (admin), products and
flash promos (API and admin), campaigns (API and admin), carts (the redemption accept, the
quote), an operator's top-up and adjustment. The ledger rounds to the minor unit, so such a
price was charged other than it read (100.50 JPY debited 101), and under half a unit it
failed the ledger's non-zero rule (the transaction stuck in PROCESSING, a 500 on a purchase)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import LedgerEntry, User
from accounts.money import money_fractions
from activation.models import Transaction
from offers.campaigns.models import Campaign
from offers.flash.models import FlashPromo, Product
from offers.models import Offer
from tests.campaigns.factories import CampaignFactory
from tests.factories import SegmentFactory, bearer, customer
from tests.flash.factories import ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("money-operator", "money-operator@example.com", "pw-123456")
    client.force_login(user)
    return user


@pytest.fixture
def staff_auth():
    return {"HTTP_AUTHORIZATION": bearer(customer(is_staff=True))}


def assert_form_refused(response):
    assert response.status_code == 200 and "amount in JPY has no decimal places" in response.content.decode()


def assert_refused(response, *fields):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "amount_not_whole" and sorted(body["details"]) == sorted(fields), body


@pytest.mark.parametrize("amount, currency, fraction", [
    ("100", "JPY", False), ("100.00", "JPY", False), ("100.50", "JPY", True), ("0.40", "JPY", True),
    ("9.99", "EUR", False), ("9.995", "EUR", True), ("1.234", "BHD", False), ("1.2345", "BHD", True)])
def test_an_amount_is_a_whole_number_of_its_currencys_minor_units(amount, currency, fraction):
    assert bool(money_fractions(currency, price=Decimal(amount))) is fraction


# --- offers: the admin ------------------------------------------------------------------------------

def test_the_admin_refuses_an_offer_priced_in_fractions_of_a_yen(client, operator):
    form = {"name": "Fibre", "description": "", "category": "internet", "currency": "JPY", "validity_days": 30,
            "is_active": "on"}

    refused = client.post(reverse("admin:offers_offer_add"), {**form, "price": "100.50"})
    accepted = client.post(reverse("admin:offers_offer_add"), {**form, "price": "100"})

    assert_form_refused(refused)
    assert accepted.status_code == 302
    assert list(Offer.objects.values_list("price", "currency")) == [(Decimal("100.00"), "JPY")]


# --- products and flash promos: API and admin ----------------------------------------------------

def test_the_api_refuses_a_product_or_a_promo_priced_in_fractions_of_a_yen(api_client, staff_auth):
    store = StoreFactory()
    product = ProductFactory(store=store, currency="JPY", regular_price=Decimal("1000"))
    gold = SegmentFactory(slug="money-gold")
    now = timezone.now()
    promo = {"product_id": product.id, "starts_at": (now - timedelta(minutes=1)).isoformat(),
             "ends_at": (now + timedelta(hours=1)).isoformat(), "segment_ids": [gold.id], "radius_km": "5",
             "quantity": 3}

    new_product = api_client.post("/api/v1/market/products/", {"store_id": store.id, "name": "TV", "currency": "JPY",
                                                               "regular_price": "1.50"}, format="json", **staff_auth)
    changed_product = api_client.patch(f"/api/v1/market/products/{product.id}/", {"regular_price": "999.50"},
                                       format="json", **staff_auth)
    new_promo = api_client.post("/api/v1/promotions/flash-promos/", {**promo, "promo_price": "0.40"}, format="json",
                                **staff_auth)
    good_promo = api_client.post("/api/v1/promotions/flash-promos/", {**promo, "promo_price": "800"}, format="json",
                                 **staff_auth)
    changed_promo = api_client.patch(f"/api/v1/promotions/flash-promos/{good_promo.json()['id']}/",
                                     {"promo_price": "799.99"}, format="json", **staff_auth)

    assert_refused(new_product, "regular_price")
    assert_refused(changed_product, "regular_price")
    assert_refused(new_promo, "promo_price")
    assert good_promo.status_code == 201, good_promo.json()
    assert_refused(changed_promo, "promo_price")
    assert list(Product.objects.values_list("regular_price", flat=True)) == [Decimal("1000.00")]
    assert list(FlashPromo.objects.values_list("promo_price", flat=True)) == [Decimal("800.00")]


def test_the_admin_refuses_a_product_or_a_promo_priced_in_fractions_of_a_yen(client, operator):
    store = StoreFactory()
    product = ProductFactory(store=store, currency="JPY", regular_price=Decimal("1000"))
    gold = SegmentFactory(slug="money-admin-gold")
    now = timezone.now()
    promo = {"product": product.id, "starts_at_0": now.strftime("%Y-%m-%d"), "starts_at_1": "00:00:00",
             "ends_at_0": (now + timedelta(days=1)).strftime("%Y-%m-%d"), "ends_at_1": "00:00:00",
             "segments": [gold.id], "radius_km": "5", "quantity": 3, "hold_seconds": 60,
             "max_units_per_customer": 1, "status": "active"}

    new_product = client.post(reverse("admin:offers_product_add"), {"store": store.id, "name": "Radio",
                                                                    "regular_price": "1.50", "currency": "JPY"},
                              follow=True)
    new_promo = client.post(reverse("admin:offers_flashpromo_add"), {**promo, "promo_price": "0.40"}, follow=True)
    good_product = client.post(reverse("admin:offers_product_add"), {"store": store.id, "name": "Radio",
                                                                     "regular_price": "150", "currency": "JPY"})

    assert_form_refused(new_product)
    assert_form_refused(new_promo)
    assert good_product.status_code == 302
    assert sorted(Product.objects.values_list("regular_price", flat=True)) == [Decimal("150.00"), Decimal("1000.00")]
    assert not FlashPromo.objects.exists()


def test_a_products_currency_cannot_change_under_its_promos(api_client, staff_auth):
    # given: a promo at 49.00 EUR, and a customer holding a unit at that price
    product = ProductFactory(currency="EUR", regular_price=Decimal("100"))
    bare = ProductFactory(currency="EUR", regular_price=Decimal("100"))
    FlashPromo.objects.create(product=product, promo_price=Decimal("49.00"), starts_at=timezone.now(),
                              ends_at=timezone.now() + timedelta(hours=1), radius_km=Decimal("5"), quantity=3)

    # when
    changed = api_client.patch(f"/api/v1/market/products/{product.id}/", {"currency": "USD"}, format="json",
                               **staff_auth)
    renamed = api_client.patch(f"/api/v1/market/products/{product.id}/", {"currency": "EUR", "name": "TV 2"},
                               format="json", **staff_auth)
    free = api_client.patch(f"/api/v1/market/products/{bare.id}/", {"currency": "USD"}, format="json", **staff_auth)

    # then: 49.00 would have become 49.00 USD
    assert changed.status_code == 409 and changed.json()["code"] == "currency_in_use", changed.json()
    assert renamed.status_code == 200 and free.status_code == 200
    assert dict(Product.objects.values_list("id", "currency")) == {product.id: "EUR", bare.id: "USD"}


# --- campaigns: API and admin ------------------------------------------------------------------------

CAMPAIGN = {"name": "Yen", "target": "cart", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "currency": "JPY",
            "status": "active"}


def test_the_api_refuses_a_campaign_whose_amounts_are_fractions_of_a_yen(api_client, staff_auth):
    flat = api_client.post("/api/v1/campaigns/", {**CAMPAIGN, "kind": "flat", "value": "100.50",
                                                  "total_budget": "100000"}, format="json", **staff_auth)
    budget = api_client.post("/api/v1/campaigns/", {**CAMPAIGN, "kind": "percentage", "value": "12.5",
                                                    "total_budget": "100000.50", "max_discount_amount": "500.5"},
                             format="json", **staff_auth)
    percentage = api_client.post("/api/v1/campaigns/", {**CAMPAIGN, "kind": "percentage", "value": "12.5",
                                                        "total_budget": "100000"}, format="json", **staff_auth)
    changed = api_client.patch(f"/api/v1/campaigns/{percentage.json()['id']}/", {"kind": "flat"}, format="json",
                               **staff_auth)

    assert_refused(flat, "value")
    assert_refused(budget, "total_budget", "max_discount_amount")
    assert percentage.status_code == 201, percentage.json()  # a percentage is not an amount
    assert_refused(changed, "value")  # 12.5 would become 12.5 yen off
    assert list(Campaign.objects.values_list("kind", "value")) == [("percentage", Decimal("12.50"))]


def test_a_redeemed_campaigns_currency_cannot_change(api_client, staff_auth):
    redeemed = CampaignFactory(currency="EUR", kind="flat", value=Decimal("5"), total_budget=Decimal("1000"),
                               spent_amount=Decimal("500"), uses_count=100)
    fresh = CampaignFactory(currency="EUR", kind="flat", value=Decimal("5"), total_budget=Decimal("1000"))

    changed = api_client.patch(f"/api/v1/campaigns/{redeemed.id}/", {"currency": "USD"}, format="json", **staff_auth)
    free = api_client.patch(f"/api/v1/campaigns/{fresh.id}/", {"currency": "USD"}, format="json", **staff_auth)

    assert changed.status_code == 409 and changed.json()["code"] == "currency_in_use", changed.json()
    assert free.status_code == 200, free.json()  # 500 EUR spent would have read 500 USD
    assert dict(Campaign.objects.values_list("id", "currency")) == {redeemed.id: "EUR", fresh.id: "USD"}


def test_the_admin_refuses_a_campaign_whose_budget_is_a_fraction_of_a_yen(client, operator):
    campaign = CampaignFactory(currency="JPY", kind="flat", value=Decimal("500"), total_budget=Decimal("100000"))
    form = {"name": campaign.name, "description": "", "target": campaign.target, "kind": "flat", "value": "500",
            "min_cart_value": "0", "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat(), "timezone": campaign.timezone, "currency": "JPY",
            "total_budget": "100000.50", "priority": campaign.priority, "status": campaign.status}

    refused = client.post(reverse("admin:offers_campaign_change", args=[campaign.pk]), form, follow=True)

    assert_form_refused(refused)
    campaign.refresh_from_db()
    assert campaign.total_budget == Decimal("100000.00")


# --- carts: the redemption accept and the quote -------------------------------------------------------

@pytest.mark.parametrize("route, asked", [("/api/v1/discounts/redeem/", {"order_reference": "order-1"}),
                                         ("/api/v1/discounts/available/", {})])
def test_a_cart_in_fractions_of_a_yen_is_refused_and_nothing_is_accepted(api_client, route, asked):
    campaign = CampaignFactory(currency="JPY", kind="flat", value=Decimal("500"), total_budget=Decimal("100000"))
    me = customer(currency="JPY")
    if "order_reference" in asked:
        asked = {**asked, "campaign_id": campaign.id}

    response = api_client.post(route, {**asked, "cart_value": "10000.50", "currency": "JPY"},
                               format="json", HTTP_AUTHORIZATION=bearer(me))
    in_my_currency = api_client.post(route, {**asked, "cart_value": "10000", "delivery_charge": "300.5"},
                                     format="json", HTTP_AUTHORIZATION=bearer(me))

    assert_refused(response, "cart_value")
    assert_refused(in_my_currency, "delivery_charge")
    assert not Transaction.objects.exists()


# --- an operator's top-up and adjustment ------------------------------------------------------------------

def test_an_operator_cannot_credit_a_fraction_of_a_yen(api_client, staff_auth, client, operator):
    someone = customer(balance="1000", currency="JPY")

    top_up = api_client.post(f"/api/v1/customers/{someone.id}/top-up/", {"amount": "10.50", "reason": "goodwill"},
                             format="json", **staff_auth)
    adjusted = client.post(reverse("admin:accounts_account_adjust", args=[someone.account.pk]),
                           {"amount": "-0.40", "reason": "correction"}, follow=True)

    assert_refused(top_up, "amount")
    assert_form_refused(adjusted)
    assert list(LedgerEntry.objects.filter(account__user=someone).values_list("amount", flat=True)) == [
        Decimal("1000.00")]
