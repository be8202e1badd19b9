"""Merchant roles: a brand member (in `Brand.staff`, not platform staff) manages their brands'
campaigns, stores, products, flash promos and code pools through the API, sees the usage and
exports of their own, never another brand's (404 on its objects, absent from lists, refused
as a reference in a write), and never gets the Django admin. Platform staff see everything.
Brands and their members are managed by platform staff (`brands/`)."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone
from rest_framework.test import APIClient

from activation.services import transactions_settle
from offers.campaigns.models import Campaign
from offers.codes.models import Brand
from offers.codes.services import code_pool_create
from offers.flash.models import FlashPromo, Product, Store
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.codes.factories import BrandFactory
from tests.factories import SegmentFactory, bearer, customer
from tests.flash.factories import ProductFactory, StoreFactory, running_promo

pytestmark = pytest.mark.django_db

API = "/api/v1"
CAMPAIGN = {"name": "Spring", "target": "cart", "kind": "percentage", "value": "15",
            "starts_on": (date.today() - timedelta(days=1)).isoformat(),
            "ends_on": (date.today() + timedelta(days=30)).isoformat(), "total_budget": "500.00", "status": "active"}
STORE = {"name": "Paris 1", "address": "Rivoli", "latitude": "48.856600", "longitude": "2.352200"}


def as_user(client, user):
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


def promo_body(product_id: int, segment_id: int) -> dict:
    now = timezone.now()
    return {"product_id": product_id, "promo_price": "49.00", "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "segment_ids": [segment_id], "radius_km": "5",
            "quantity": 3}


@pytest.fixture
def brand_b():
    """Brand B's member and one object of each kind, a redemption of its campaign included."""
    brand = BrandFactory(name="Brand B")
    member = customer(username="b-member")
    brand.staff.add(member)
    campaign = CampaignFactory(brand=brand)
    transactions_settle(transaction_id=pending_redemption(customer(), campaign).id)
    promo = running_promo(segments=[SegmentFactory()], product=ProductFactory(store=StoreFactory(brand=brand)))
    pool = code_pool_create(brand=brand, name="B pool", total_count=2)
    return {"brand": brand, "member": member, "campaign": campaign, "store": promo.product.store,
            "product": promo.product, "promo": promo, "pool": pool}


@pytest.fixture
def member_a():
    brand = BrandFactory(name="Brand A")
    member = customer(username="a-member")
    brand.staff.add(member)
    return member, brand


def _b_object_requests(b: dict) -> list[tuple[str, str, dict | None]]:
    """Every request on one of brand B's objects, with a body that would succeed for B's member."""
    c, s, p, f, pool, brand = (b["campaign"].id, b["store"].id, b["product"].id, b["promo"].id, b["pool"].id,
                               b["brand"].id)
    return [
        ("get", f"{API}/campaigns/{c}/", None),
        ("patch", f"{API}/campaigns/{c}/", {"name": "Taken over"}),
        ("put", f"{API}/campaigns/{c}/", {**CAMPAIGN, "brand": brand}),
        ("delete", f"{API}/campaigns/{c}/", None),
        ("patch", f"{API}/campaigns/{c}/status/", {"status": "paused"}),
        ("get", f"{API}/market/stores/{s}/", None),
        ("patch", f"{API}/market/stores/{s}/", {"name": "Taken over"}),
        ("put", f"{API}/market/stores/{s}/", {**STORE, "brand": brand}),
        ("delete", f"{API}/market/stores/{s}/", None),
        ("get", f"{API}/market/products/{p}/", None),
        ("patch", f"{API}/market/products/{p}/", {"name": "Taken over"}),
        ("delete", f"{API}/market/products/{p}/", None),
        ("get", f"{API}/promotions/flash-promos/{f}/", None),
        ("patch", f"{API}/promotions/flash-promos/{f}/", {"quantity": 1}),
        ("delete", f"{API}/promotions/flash-promos/{f}/", None),
        ("get", f"{API}/codes/pools/{pool}/", None),
        ("get", f"{API}/codes/pools/{pool}/export.csv", None),
        ("get", f"{API}/brands/{brand}/", None),
        ("get", f"{API}/brands/{brand}/members/", None),
    ]


def _snapshot(b: dict) -> dict:
    return {"campaign": Campaign.objects.filter(pk=b["campaign"].pk).values().first(),
            "store": Store.objects.filter(pk=b["store"].pk).values().first(),
            "product": Product.objects.filter(pk=b["product"].pk).values().first(),
            "promo": FlashPromo.objects.filter(pk=b["promo"].pk).values().first()}


def test_brand_a_member_gets_404_on_every_brand_b_object_and_nothing_changes(api_client, member_a, brand_b):
    # given
    client = as_user(api_client, member_a[0])
    before = _snapshot(brand_b)

    # when
    answers = {(method, url): client.generic(method.upper(), url, data=json.dumps(body) if body else "",
                                             content_type="application/json").status_code
               for method, url, body in _b_object_requests(brand_b)}

    # then
    assert {key: status for key, status in answers.items() if status != 404} == {}
    assert _snapshot(brand_b) == before


def test_brand_b_member_gets_what_brand_b_owns(api_client, brand_b):
    """The same requests succeed for B's own member: the 404s above are about the brand, not the requests."""
    # given
    client = as_user(api_client, brand_b["member"])

    # when
    reads = [client.get(url) for method, url, _ in _b_object_requests(brand_b) if method == "get"]

    # then
    assert [r.status_code for r in reads] == [200] * len(reads)


def test_lists_hold_only_my_brands_objects_and_usage_only_my_campaigns(api_client, member_a, brand_b):
    # given
    member, brand = member_a
    mine = CampaignFactory(brand=brand)
    transactions_settle(transaction_id=pending_redemption(customer(), mine).id)
    my_promo = running_promo(segments=[SegmentFactory()], product=ProductFactory(store=StoreFactory(brand=brand)))
    my_pool = code_pool_create(brand=brand, name="A pool", total_count=2)
    CampaignFactory(), running_promo(segments=[SegmentFactory()])  # the platform's own: staff only
    client = as_user(api_client, member)

    def ids(url):
        response = client.get(url, {"page_size": 100})
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    # when / then
    assert ids(f"{API}/campaigns/") == [mine.id]
    assert ids(f"{API}/market/stores/") == [my_promo.product.store_id]
    assert ids(f"{API}/market/products/") == [my_promo.product_id]
    assert ids(f"{API}/promotions/flash-promos/") == [my_promo.id]
    assert ids(f"{API}/codes/pools/") == [my_pool.id]
    assert ids(f"{API}/brands/") == [brand.id]
    my_usage = client.get(f"{API}/discounts/usage/", {"campaign": mine.id}).json()
    their_usage = client.get(f"{API}/discounts/usage/", {"campaign": brand_b["campaign"].id}).json()
    assert [r["campaign"] for r in my_usage["results"]] == [mine.id]  # another customer's redemption of mine
    assert their_usage["count"] == 0  # B's campaign: only my own redemptions of it, and I have none


def test_writes_naming_another_brands_brand_store_or_product_are_refused_and_write_nothing(api_client, member_a,
                                                                                          brand_b):
    # given
    member, brand = member_a
    my_campaign = CampaignFactory(brand=brand)
    my_product = ProductFactory(store=StoreFactory(brand=brand))
    segment = SegmentFactory()
    client = as_user(api_client, member)
    counts = (Campaign.objects.count(), Store.objects.count(), Product.objects.count(), FlashPromo.objects.count())

    # when
    answers = {
        "campaign for B": client.post(f"{API}/campaigns/", {**CAMPAIGN, "brand": brand_b["brand"].id}, format="json"),
        "campaign for no brand": client.post(f"{API}/campaigns/", CAMPAIGN, format="json"),
        "campaign brand null": client.post(f"{API}/campaigns/", {**CAMPAIGN, "brand": None}, format="json"),
        "my campaign moved to B": client.patch(f"{API}/campaigns/{my_campaign.id}/",
                                               {"brand": brand_b["brand"].id}, format="json"),
        "my campaign to the platform": client.patch(f"{API}/campaigns/{my_campaign.id}/", {"brand": None},
                                                    format="json"),
        "store for B": client.post(f"{API}/market/stores/", {**STORE, "brand": brand_b["brand"].id}, format="json"),
        "store for no brand": client.post(f"{API}/market/stores/", STORE, format="json"),
        "product in B's store": client.post(f"{API}/market/products/", {"store_id": brand_b["store"].id,
                                                                         "name": "TV", "regular_price": "100.00"},
                                            format="json"),
        "my product moved to B's store": client.patch(f"{API}/market/products/{my_product.id}/",
                                                      {"store_id": brand_b["store"].id}, format="json"),
        "promo on B's product": client.post(f"{API}/promotions/flash-promos/",
                                            promo_body(brand_b["product"].id, segment.id), format="json"),
    }

    # then
    assert {name: r.status_code for name, r in answers.items()} == {name: 400 for name in answers}
    assert all(set(r.json()) == {"code", "message", "details"} for r in answers.values())
    pool = client.post(f"{API}/codes/pools/", {"brand_id": brand_b["brand"].id, "name": "X", "total_count": 2},
                       format="json")
    assert pool.status_code == 403  # the pool serializer's answer for a brand I am not in
    assert (Campaign.objects.count(), Store.objects.count(), Product.objects.count(),
            FlashPromo.objects.count()) == counts
    my_campaign.refresh_from_db(), my_product.refresh_from_db()
    assert my_campaign.brand_id == brand.id and my_product.store.brand_id == brand.id


def test_a_member_runs_their_brand_end_to_end(api_client, member_a):
    # given
    member, brand = member_a
    segment = SegmentFactory()
    client = as_user(api_client, member)

    # when: a campaign, paused; a store, a product, a flash promo; a pool and its export
    campaign = client.post(f"{API}/campaigns/", {**CAMPAIGN, "brand": brand.id}, format="json")
    shopper = customer()
    redeemed = as_user(APIClient(), shopper).post(
        f"{API}/discounts/redeem/", {"campaign_id": campaign.json()["id"], "cart_value": "40",
                                    "order_reference": "order-1"}, format="json")
    transactions_settle(transaction_id=redeemed.json()["transaction_id"])
    paused = client.patch(f"{API}/campaigns/{campaign.json()['id']}/status/", {"status": "paused"}, format="json")
    usage = client.get(f"{API}/discounts/usage/", {"campaign": campaign.json()["id"]})
    store = client.post(f"{API}/market/stores/", {**STORE, "brand": brand.id}, format="json")
    product = client.post(f"{API}/market/products/", {"store_id": store.json()["id"], "name": "TV",
                                                       "regular_price": "100.00"}, format="json")
    promo = client.post(f"{API}/promotions/flash-promos/", promo_body(product.json()["id"], segment.id),
                        format="json")
    promo_patched = client.patch(f"{API}/promotions/flash-promos/{promo.json()['id']}/", {"quantity": 5},
                                 format="json")
    pool = client.post(f"{API}/codes/pools/", {"brand_id": brand.id, "name": "Spring", "total_count": 3},
                       format="json")
    export = client.get(f"{API}/codes/pools/{pool.json()['id']}/export.csv")
    unused = client.post(f"{API}/campaigns/", {**CAMPAIGN, "name": "Draft", "brand": brand.id}, format="json")
    deleted = client.delete(f"{API}/campaigns/{unused.json()['id']}/")

    # then
    assert campaign.status_code == 201 and campaign.json()["brand"] == brand.id, campaign.json()
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert [(r["user"], r["amount"]) for r in usage.json()["results"]] == [(shopper.id, "6.00")]
    assert store.status_code == 201 and store.json()["brand"] == brand.id, store.json()
    assert product.status_code == 201 and promo.status_code == 201, (product.json(), promo.json())
    assert promo_patched.status_code == 200 and promo_patched.json()["quantity"] == 5
    assert pool.status_code == 201 and export.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))) == 1 + 3
    assert deleted.status_code == 204 and not Campaign.objects.filter(pk=unused.json()["id"]).exists()


def test_a_member_is_not_platform_staff_and_the_django_admin_sends_them_to_its_login(client, member_a, api_client):
    # given
    member, _ = member_a
    client.force_login(member)

    # when
    admin = client.get("/admin/")
    customers = as_user(api_client, member).get(f"{API}/customers/")
    new_brand = api_client.post(f"{API}/brands/", {"name": "Mine now"}, format="json")

    # then
    assert not member.is_staff
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")
    assert customers.status_code == 403  # the platform's customers: staff only
    assert new_brand.status_code == 403 and not Brand.objects.filter(name="Mine now").exists()


def test_staff_see_and_manage_every_brands_objects(api_client, member_a, brand_b):
    # given
    _, brand_a = member_a
    a_campaign = CampaignFactory(brand=brand_a)
    platform = CampaignFactory()
    client = as_user(api_client, customer(is_staff=True))

    # when
    listed = {c["id"] for c in client.get(f"{API}/campaigns/", {"page_size": 100}).json()["results"]}
    paused = client.patch(f"{API}/campaigns/{brand_b['campaign'].id}/status/", {"status": "paused"}, format="json")
    created = client.post(f"{API}/campaigns/", CAMPAIGN, format="json")  # platform-wide: no brand
    for_b = client.post(f"{API}/market/stores/", {**STORE, "brand": brand_b["brand"].id}, format="json")
    usage = client.get(f"{API}/discounts/usage/", {"campaign": brand_b["campaign"].id})

    # then
    assert {a_campaign.id, platform.id, brand_b["campaign"].id} <= listed
    assert paused.status_code == 200
    assert created.status_code == 201 and created.json()["brand"] is None
    assert for_b.status_code == 201 and for_b.json()["brand"] == brand_b["brand"].id
    assert usage.json()["count"] == 1


# --- brands/ -------------------------------------------------------------------------------------

def test_staff_create_a_brand_and_manage_its_members_and_the_member_gains_and_loses_access(api_client):
    # given
    staff = customer(is_staff=True)
    alice, bob = customer(username="alice-m"), customer(username="bob-m", email="Bob.M@example.com")
    ops = as_user(api_client, staff)

    # when
    created = ops.post(f"{API}/brands/", {"name": "Acme", "member_ids": [alice.id]}, format="json")
    brand_id = created.json()["id"]
    campaign = CampaignFactory(brand_id=brand_id)
    by_email = ops.post(f"{API}/brands/{brand_id}/members/", {"username": "bob.m@example.com"}, format="json")
    again = ops.post(f"{API}/brands/{brand_id}/members/", {"user_id": bob.id}, format="json")
    renamed = ops.patch(f"{API}/brands/{brand_id}/", {"name": "Acme Corp"}, format="json")
    bob_sees = as_user(APIClient(), bob).get(f"{API}/campaigns/{campaign.id}/")
    bob_brand = as_user(APIClient(), bob).get(f"{API}/brands/{brand_id}/")
    removed = ops.delete(f"{API}/brands/{brand_id}/members/{bob.id}/")
    removed_again = ops.delete(f"{API}/brands/{brand_id}/members/{bob.id}/")
    bob_after = as_user(APIClient(), bob).get(f"{API}/campaigns/{campaign.id}/")

    # then
    assert created.status_code == 201, created.json()
    assert [m["username"] for m in created.json()["members"]] == ["alice-m"]
    assert by_email.status_code == 201 and again.status_code == 200
    assert renamed.status_code == 200 and renamed.json()["name"] == "Acme Corp"
    assert bob_sees.status_code == 200
    assert bob_brand.status_code == 200 and {m["id"] for m in bob_brand.json()["members"]} == {alice.id, bob.id}
    assert removed.status_code == 204 and removed_again.status_code == 404
    assert bob_after.status_code == 403  # no brand left: not a merchant at all
    assert not bob.is_staff and set(Brand.objects.get(pk=brand_id).staff.all()) == {alice}
    messages = set(LogEntry.objects.filter(object_id=str(brand_id)).values_list("change_message", flat=True))
    assert {"Created through the API", f"Added member {bob.id}", f"Removed member {bob.id}"} <= messages


def test_members_see_their_brands_but_cannot_create_rename_or_change_membership(api_client, member_a, brand_b):
    # given
    member, brand = member_a
    stranger = customer()
    client = as_user(api_client, member)

    # when
    answers = {
        "create": client.post(f"{API}/brands/", {"name": "Mine"}, format="json").status_code,
        "rename": client.patch(f"{API}/brands/{brand.id}/", {"name": "Mine"}, format="json").status_code,
        "add": client.post(f"{API}/brands/{brand.id}/members/", {"user_id": stranger.id}, format="json").status_code,
        "remove": client.delete(f"{API}/brands/{brand.id}/members/{member.id}/").status_code,
        "add to B": client.post(f"{API}/brands/{brand_b['brand'].id}/members/", {"user_id": member.id},
                                format="json").status_code,
    }
    listed = client.get(f"{API}/brands/").json()
    stranger_list = as_user(APIClient(), stranger).get(f"{API}/brands/").json()
    stranger_detail = as_user(APIClient(), stranger).get(f"{API}/brands/{brand.id}/")

    # then
    assert answers == {"create": 403, "rename": 403, "add": 403, "remove": 403, "add to B": 403}
    assert [b["id"] for b in listed["results"]] == [brand.id]
    assert stranger_list["count"] == 0 and stranger_detail.status_code == 404
    assert list(brand.staff.all()) == [member] and not brand_b["brand"].staff.filter(pk=member.pk).exists()
    assert Brand.objects.filter(name="Mine").count() == 0


@pytest.mark.parametrize("body,field", [
    ({"user_id": 999999}, "user"),
    ({"username": "nobody"}, "user"),
    ({"user_id": 1, "username": "x"}, "user_id"),
    ({}, "user_id"),
    ({"user_id": "x"}, "user_id"),
    ({"user_id": 1, "role": "admin"}, "role"),
])
def test_bad_member_requests_are_400_and_change_nothing(api_client, member_a, body, field):
    # given
    _, brand = member_a
    client = as_user(api_client, customer(is_staff=True))

    # when
    response = client.post(f"{API}/brands/{brand.id}/members/", body, format="json")

    # then
    assert response.status_code == 400 and field in response.json()["details"], response.json()
    assert brand.staff.count() == 1


def test_an_inactive_user_cannot_be_made_a_member_and_brand_names_are_unique(api_client):
    # given
    inactive = customer()
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    BrandFactory(name="Taken")
    client = as_user(api_client, customer(is_staff=True))
    brand = client.post(f"{API}/brands/", {"name": "Fresh"}, format="json").json()

    # when
    member = client.post(f"{API}/brands/{brand['id']}/members/", {"user_id": inactive.id}, format="json")
    duplicate = client.post(f"{API}/brands/", {"name": "Taken"}, format="json")
    rename_to_taken = client.put(f"{API}/brands/{brand['id']}/", {"name": "Taken"}, format="json")
    rename_to_itself = client.put(f"{API}/brands/{brand['id']}/", {"name": "Fresh"}, format="json")

    # then
    assert member.status_code == 400 and duplicate.status_code == 400 and rename_to_taken.status_code == 400
    assert rename_to_itself.status_code == 200
    assert Brand.objects.filter(name="Taken").count() == 1
