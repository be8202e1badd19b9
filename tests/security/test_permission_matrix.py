"""Who may call what: anonymous, customers A and B, staff, partners P and Q, merchants M
(member of brand X) and N (member of brand Y) × every API endpoint and method, enumerated
from the URL resolver, so a new endpoint without a row in EXPECTED fails the completeness test.

Object endpoints are called with objects that belong to A (or to P, or to brand X): the owner
gets its answer, the other tenant gets 404 and nothing changes. Writes carry an empty JSON
body, so a role that is let in gets a 400 from validation and no side effect. M and N are
customers too: on A's objects they get what B gets."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import Segment
from activation.models import Transaction
from offers.campaigns.models import CampaignRedemption
from notifications.models import Notification
from offers.codes.services import code_pool_create
from offers.flash.models import FlashReservation
from offers.models import Subscription
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, bearer, customer
from tests.flash.factories import ProductFactory, StoreFactory, running_promo
from tests.notifications.factories import InAppNotificationFactory
from tests.partners.signing import partner, post_signed, signed_headers

pytestmark = pytest.mark.django_db

ROLES = ("anon", "A", "B", "staff", "P", "Q", "M", "N")
METHODS = ("get", "post", "put", "patch", "delete")


def _row(anon, a, b, staff, p, q, m=None, n=None) -> dict:
    """M and N answer like B (another customer) unless a row says otherwise."""
    return dict(zip(ROLES, (anon, a, b, staff, p, q, b if m is None else m, b if n is None else n)))


def public(status: int) -> dict:
    return _row(status, status, status, status, status, status)


def users(a: int, b: int | None = None, staff: int | None = None, m: int | None = None) -> dict:
    """JWT users only; partners' signatures mean nothing here."""
    return _row(401, a, a if b is None else b, a if staff is None else staff, 401, 401, m=m)


def staff_only(status: int) -> dict:
    return _row(401, 403, 403, status, 401, 401)


def brand_owned(status: int, n: int = 404) -> dict:
    """Brand X's objects: platform staff and X's member M get `status`, Y's member N a 404 (a
    list or a create: `n`), customers 403 (they manage no brand)."""
    return _row(401, 403, 403, status, 401, 401, m=status, n=n)


def partners(p: int, q: int | None = None) -> dict:
    return _row(401, 401, 401, 401, p, p if q is None else q)


# (route name, method) -> role -> status. A's objects: B gets 404 (never 200/202/403 that
# would confirm the object exists); P's reference: Q gets 404; brand X's objects: N gets 404.
EXPECTED = {
    ("auth-login", "post"): public(400),
    ("auth-refresh", "post"): public(400),
    ("auth-logout", "post"): public(400),
    ("auth-register", "post"): public(400),  # `world` lifts the per-address rate
    ("auth-profile", "get"): users(200),
    ("auth-profile", "patch"): users(200),  # {} changes nothing
    ("account-balance", "get"): users(200),
    ("transaction-status", "get"): users(200, b=404, staff=404),
    ("transaction-list", "get"): users(200),
    ("transaction-detail", "get"): users(200, b=404, staff=404),
    ("transaction-reverse", "post"): users(409, b=404, staff=409),  # owner or staff; pending: 409
    ("offer-list", "get"): users(200),
    ("offer-expiring", "get"): users(200),
    ("offer-renew", "post"): users(400),
    ("offer-detail", "get"): users(200),
    ("activation", "post"): users(400),
    ("subscription-list", "get"): users(200),
    ("subscription-detail", "get"): users(200, b=404, staff=404),
    ("subscription-detail", "patch"): users(400, b=404, staff=404),  # A: {} lacks auto_renew
    ("subscription-cancel", "post"): users(200, b=404, staff=404),
    ("account-ledger", "get"): users(200),
    ("customer-list", "get"): staff_only(200),
    ("customer-list", "post"): staff_only(400),
    ("customer-detail", "get"): staff_only(200),
    ("customer-detail", "patch"): staff_only(200),  # {} changes nothing
    ("customer-deactivate", "post"): staff_only(200),  # customer C, who plays no other role
    ("customer-topup", "post"): staff_only(400),
    ("segment-list", "get"): users(200),  # a customer sees slugs and names
    ("segment-list", "post"): staff_only(400),
    ("segment-detail", "get"): staff_only(200),
    ("segment-detail", "put"): staff_only(400),
    ("segment-detail", "patch"): staff_only(200),
    ("segment-detail", "delete"): staff_only(409),  # a flash promo targets it
    ("profile-list", "get"): staff_only(200),
    ("profile-me", "get"): users(200),
    ("profile-me", "patch"): users(200),
    ("profile-detail", "get"): users(200, b=404, staff=200),  # A's profile: A and staff
    ("profile-detail", "patch"): users(200, b=404, staff=200),
    ("campaign-list", "get"): brand_owned(200, n=200),  # each sees their own (test below)
    ("campaign-list", "post"): brand_owned(400, n=400),
    ("campaign-detail", "get"): brand_owned(200),
    ("campaign-detail", "put"): brand_owned(400),
    ("campaign-detail", "patch"): brand_owned(200),
    ("campaign-detail", "delete"): brand_owned(409),  # it has a redemption: kept
    ("campaign-status", "patch"): brand_owned(400),
    ("discounts-available", "post"): users(400),
    ("discounts-redeem", "post"): users(400),
    ("discounts-usage", "get"): users(200),
    ("codes-validate", "post"): users(400),
    ("code-pool-list", "get"): users(200),
    ("code-pool-list", "post"): users(400),
    ("code-pool-detail", "get"): users(404, staff=200, m=200),  # customers manage no brand
    ("code-pool-claim", "post"): users(202),
    ("code-pool-grant", "post"): _row(401, 403, 403, 400, 401, 401, m=400, n=404),  # {} is a 400
    ("code-pool-open", "get"): users(200),
    ("code-pool-export", "get"): users(404, staff=200, m=200),
    ("brand-list", "get"): users(200),  # each sees the brands they belong to (test below)
    ("brand-list", "post"): staff_only(400),
    ("brand-detail", "get"): users(404, staff=200, m=200),
    ("brand-detail", "put"): staff_only(400),
    ("brand-detail", "patch"): staff_only(200),
    ("brand-members", "get"): users(404, staff=200, m=200),
    ("brand-members", "post"): staff_only(400),
    ("brand-member", "delete"): staff_only(204),
    ("code-mine", "get"): users(200),
    ("store-list", "get"): brand_owned(200, n=200),
    ("store-list", "post"): brand_owned(400, n=400),
    ("store-detail", "get"): brand_owned(200),
    ("store-detail", "put"): brand_owned(400),
    ("store-detail", "patch"): brand_owned(200),
    ("store-detail", "delete"): brand_owned(409),
    ("product-list", "get"): brand_owned(200, n=200),
    ("product-list", "post"): brand_owned(400, n=400),
    ("product-detail", "get"): brand_owned(200),
    ("product-detail", "put"): brand_owned(400),
    ("product-detail", "patch"): brand_owned(200),
    ("product-detail", "delete"): brand_owned(409),
    ("flash-promo-list", "get"): brand_owned(200, n=200),
    ("flash-promo-list", "post"): brand_owned(400, n=400),
    ("flash-promo-eligible", "get"): users(200),
    ("flash-promo-running", "get"): users(200),
    ("flash-promo-detail", "get"): brand_owned(200),
    ("flash-promo-detail", "put"): brand_owned(400),
    ("flash-promo-detail", "patch"): brand_owned(200),
    ("flash-promo-detail", "delete"): brand_owned(409),
    ("reservation-list", "get"): users(200),
    ("reservation-list", "post"): users(400),
    ("reservation-complete", "post"): users(200, b=404, staff=404),
    ("partner-activate", "post"): partners(400),
    ("partner-validate", "get"): partners(200, q=404),
    ("partner-reverse", "post"): partners(409, q=404),  # P's own reference, still pending: 409
    ("notification-list", "get"): users(200),
    ("notification-read-all", "post"): users(200),
    ("notification-read", "post"): users(200, b=404, staff=404),
}


def _api_endpoints() -> list[tuple[str, str, str]]:
    """(route name, method, route) for every view under api/v1/."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                view = getattr(pattern.callback, "view_class", None)
                methods = [m for m in METHODS if hasattr(view, m)] if view else ["get"]  # the async status view
                found.extend((pattern.name, method, route) for method in methods)

    walk(get_resolver().url_patterns, "")
    return found


ENDPOINTS = _api_endpoints()


def test_every_endpoint_and_method_has_a_row_in_the_matrix():
    assert {(name, method) for name, method, _ in ENDPOINTS} == set(EXPECTED)


@pytest.fixture
def world(monkeypatch):
    """Two customers, staff, two partners, two merchants (M of brand X, N of brand Y), one
    object of each kind that belongs to A (or P, or brand X), and brand Y's own."""
    segment = Segment.objects.create(slug="matrix", name="Matrix")
    # Every role calls from one address; registration's rate per address has its own tests.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "register", "1000/min")
    a = customer(balance="100.00", phone="+33611110001", segment=segment, latitude="48.8606",
                 longitude="2.3376")
    b = customer(balance="100.00", phone="+33611110002", segment=segment, latitude="48.8606",
                 longitude="2.3376")
    staff = customer(username="matrix-staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    p, q = partner(customers=[a]), partner()
    m, n, x_colleague = customer(username="matrix-m"), customer(username="matrix-n"), customer(username="matrix-m2")
    x, y = BrandFactory(name="X"), BrandFactory(name="Y")
    x.staff.add(m, x_colleague)
    y.staff.add(n)
    offer = OfferFactory()
    c = customer(username="matrix-c")
    subscription = Subscription.objects.create(user=a, offer=offer, started_at=timezone.now(),
                                               expires_at=timezone.now() + timedelta(days=30))
    promo = running_promo(segments=[segment], product=ProductFactory(store=StoreFactory(brand=x)))
    pool = code_pool_create(brand=x, name="Matrix pool", total_count=3)
    campaign = CampaignFactory(brand=x)
    CampaignRedemption.objects.create(  # a campaign with redemptions is kept: DELETE is a 409, not a 204
        campaign=campaign, user=a, amount=Decimal("1.00"), base_value=Decimal("10.00"), order_reference="matrix",
        local_day=timezone.now().date(),
        transaction=Transaction.objects.create(kind="discount_redemption", user=a, payload={}))
    y_promo = running_promo(segments=[segment], product=ProductFactory(store=StoreFactory(brand=y)))
    y_objects = {"campaign": CampaignFactory(brand=y).id, "store": y_promo.product.store_id,
                 "product": y_promo.product_id, "flash-promo": y_promo.id,
                 "code-pool": code_pool_create(brand=y, name="Y pool", total_count=1).id, "brand": y.id}
    txn = Transaction.objects.create(kind="offer_activation", user=a, payload={})
    reservation = FlashReservation.objects.create(promo=promo, user=a, transaction_id=uuid.uuid4(),
                                                  expires_at=timezone.now() + timedelta(minutes=5))
    notification = InAppNotificationFactory(user=a)
    from rest_framework.test import APIClient
    accepted = post_signed(APIClient(), p, {"reference": "p-ref", "customer": a.profile.phone, "offer_id": offer.id})
    assert accepted.status_code == 202, accepted.json()
    return {
        "users": {"A": a, "B": b, "staff": staff, "M": m, "N": n}, "partners": {"P": p, "Q": q},
        "kwargs": {
            "customer": c.id, "profile": a.profile.id, "segment": segment.id, "subscription": subscription.id,
            "transaction_id": txn.id, "reference": "p-ref", "offer-detail": offer.id,
            "campaign": campaign.id, "code-pool": pool.id, "store": promo.product.store_id,
            "product": promo.product_id, "flash-promo": promo.id, "reservation": reservation.id,
            "notification": notification.id, "brand": x.id, "user_id": x_colleague.id,
        },
        "notification": notification, "reservation": reservation, "txn": txn, "y_objects": y_objects,
    }


def _path(route: str, name: str, kwargs: dict) -> str:
    path = "/" + route
    for converter in ("<uuid:transaction_id>", "<str:reference>", "<int:user_id>"):
        key = converter[1:-1].split(":")[1]
        path = path.replace(converter, str(kwargs[key]))
    if "<int:pk>" in path:
        owner = {"offer-detail": "offer-detail", "notification-read": "notification",
                 "reservation-complete": "reservation"}.get(name) or name.rsplit("-", 1)[0]
        owner = {"code-pool": "code-pool", "campaign": "campaign", "store": "store", "product": "product",
                 "flash-promo": "flash-promo"}.get(owner, owner)
        path = path.replace("<int:pk>", str(kwargs[owner]))
    return path


def _call(client, world, role: str, method: str, path: str):
    body = b"" if method == "get" else b"{}"
    headers = {}
    if role in world["users"]:
        headers["Authorization"] = bearer(world["users"][role])
    elif role in world["partners"]:
        headers = signed_headers(world["partners"][role], method.upper(), path, body)
        headers.pop("Content-Type")
    return client.generic(method.upper(), path, data=body, content_type="application/json", headers=headers)


@pytest.mark.parametrize("name,method,route", ENDPOINTS, ids=[f"{m.upper()} {n}" for n, m, _ in ENDPOINTS])
def test_permission_matrix(api_client, world, name, method, route):
    # given
    path = _path(route, name, world["kwargs"])
    expected = EXPECTED[(name, method)]

    # when: each role in turn; B (Q, N) go before A (P, M), so the owner's write cannot hide
    # theirs, and M before staff, so that staff removing X's member comes last
    observed = {}
    for role in ("anon", "B", "Q", "N", "M", "staff", "A", "P"):
        response = _call(api_client, world, role, method, path)
        observed[role] = response.status_code
        if response.get("Content-Type", "").startswith("application/json") and response.status_code >= 400:
            assert set(json.loads(response.content)) == {"code", "message", "details"}

    # then
    assert {role: observed[role] for role in ROLES} == expected, path


MERCHANT_LISTS = {"campaign": "/api/v1/campaigns/", "store": "/api/v1/market/stores/",
                  "product": "/api/v1/market/products/", "flash-promo": "/api/v1/promotions/flash-promos/",
                  "code-pool": "/api/v1/codes/pools/", "brand": "/api/v1/brands/"}


@pytest.mark.parametrize("kind", MERCHANT_LISTS)
def test_each_merchant_lists_only_their_brands_objects_and_staff_lists_all(api_client, world, kind):
    # given: brand X's object (M's) and brand Y's (N's)
    x_id, y_id = world["kwargs"][kind], world["y_objects"][kind]

    # when
    listed = {}
    for role in ("M", "N", "staff", "A"):
        response = api_client.get(MERCHANT_LISTS[kind], {"page_size": 100},
                                  HTTP_AUTHORIZATION=bearer(world["users"][role]))
        assert response.status_code in (200, 403), response.content
        listed[role] = {row["id"] for row in response.json()["results"]} if response.status_code == 200 else None

    # then
    assert x_id in listed["M"] and y_id not in listed["M"]
    assert y_id in listed["N"] and x_id not in listed["N"]
    assert {x_id, y_id} <= listed["staff"]
    assert listed["A"] in (None, set())  # a customer manages no brand: 403, or nothing listed
