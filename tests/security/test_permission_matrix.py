"""Who may call what: anonymous, customers A and B, staff, partners P and Q × every API
endpoint and method, enumerated from the URL resolver, so a new endpoint without a row in
EXPECTED fails the completeness test.

Object endpoints are called with objects that belong to A (or to P): the owner gets its
answer, the other tenant gets 404 and nothing changes. Writes carry an empty JSON body, so
a role that is let in gets a 400 from validation and no side effect."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import Segment
from activation.models import Transaction
from notifications.models import Notification
from offers.codes.services import code_pool_create
from offers.flash.models import FlashReservation
from offers.models import Subscription
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, bearer, customer
from tests.flash.factories import running_promo
from tests.notifications.factories import InAppNotificationFactory
from tests.partners.signing import partner, post_signed, signed_headers

pytestmark = pytest.mark.django_db

ROLES = ("anon", "A", "B", "staff", "P", "Q")
METHODS = ("get", "post", "put", "patch", "delete")


def _row(anon, a, b, staff, p, q) -> dict:
    return dict(zip(ROLES, (anon, a, b, staff, p, q)))


def public(status: int) -> dict:
    return _row(status, status, status, status, status, status)


def users(a: int, b: int | None = None, staff: int | None = None) -> dict:
    """JWT users only; partners' signatures mean nothing here."""
    return _row(401, a, a if b is None else b, a if staff is None else staff, 401, 401)


def staff_only(status: int) -> dict:
    return _row(401, 403, 403, status, 401, 401)


def partners(p: int, q: int | None = None) -> dict:
    return _row(401, 401, 401, 401, p, p if q is None else q)


# (route name, method) -> role -> status. A's objects: B gets 404 (never 200/202/403 that
# would confirm the object exists); P's reference: Q gets 404.
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
    ("campaign-list", "get"): staff_only(200),
    ("campaign-list", "post"): staff_only(400),
    ("campaign-detail", "get"): staff_only(200),
    ("campaign-detail", "put"): staff_only(400),
    ("campaign-detail", "patch"): staff_only(200),
    ("campaign-detail", "delete"): staff_only(204),
    ("campaign-status", "patch"): staff_only(400),
    ("discounts-available", "post"): users(400),
    ("discounts-redeem", "post"): users(400),
    ("discounts-usage", "get"): users(200),
    ("code-pool-list", "get"): users(200),
    ("code-pool-list", "post"): users(400),
    ("code-pool-detail", "get"): users(404, staff=200),  # customers manage no brand
    ("code-pool-claim", "post"): users(202),
    ("code-pool-grant", "post"): users(403, staff=400),  # brand members and staff; {} is a 400
    ("code-pool-open", "get"): users(200),
    ("code-pool-export", "get"): users(404, staff=200),
    ("code-mine", "get"): users(200),
    ("store-list", "get"): staff_only(200),
    ("store-list", "post"): staff_only(400),
    ("store-detail", "get"): staff_only(200),
    ("store-detail", "put"): staff_only(400),
    ("store-detail", "patch"): staff_only(200),
    ("store-detail", "delete"): staff_only(409),
    ("product-list", "get"): staff_only(200),
    ("product-list", "post"): staff_only(400),
    ("product-detail", "get"): staff_only(200),
    ("product-detail", "put"): staff_only(400),
    ("product-detail", "patch"): staff_only(200),
    ("product-detail", "delete"): staff_only(409),
    ("flash-promo-list", "get"): staff_only(200),
    ("flash-promo-list", "post"): staff_only(400),
    ("flash-promo-eligible", "get"): users(200),
    ("flash-promo-running", "get"): users(200),
    ("flash-promo-detail", "get"): staff_only(200),
    ("flash-promo-detail", "put"): staff_only(400),
    ("flash-promo-detail", "patch"): staff_only(200),
    ("flash-promo-detail", "delete"): staff_only(409),
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
    """Two customers, staff, two partners, and one object of each kind that belongs to A (or P)."""
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
    offer = OfferFactory()
    c = customer(username="matrix-c")
    subscription = Subscription.objects.create(user=a, offer=offer, started_at=timezone.now(),
                                               expires_at=timezone.now() + timedelta(days=30))
    promo = running_promo(segments=[segment])
    pool = code_pool_create(brand=BrandFactory(), name="Matrix pool", total_count=3)
    txn = Transaction.objects.create(kind="offer_activation", user=a, payload={})
    reservation = FlashReservation.objects.create(promo=promo, user=a, transaction_id=uuid.uuid4(),
                                                  expires_at=timezone.now() + timedelta(minutes=5))
    notification = InAppNotificationFactory(user=a)
    from rest_framework.test import APIClient
    accepted = post_signed(APIClient(), p, {"reference": "p-ref", "customer": a.profile.phone, "offer_id": offer.id})
    assert accepted.status_code == 202, accepted.json()
    return {
        "users": {"A": a, "B": b, "staff": staff}, "partners": {"P": p, "Q": q},
        "kwargs": {
            "customer": c.id, "profile": a.profile.id, "segment": segment.id, "subscription": subscription.id,
            "transaction_id": txn.id, "reference": "p-ref", "offer-detail": offer.id,
            "campaign": CampaignFactory().id, "code-pool": pool.id, "store": promo.product.store_id,
            "product": promo.product_id, "flash-promo": promo.id, "reservation": reservation.id,
            "notification": notification.id,
        },
        "notification": notification, "reservation": reservation, "txn": txn,
    }


def _path(route: str, name: str, kwargs: dict) -> str:
    path = "/" + route
    for converter in ("<uuid:transaction_id>", "<str:reference>"):
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

    # when: each role in turn; B (and Q) go before A (and P), so the owner's write cannot hide theirs
    observed = {}
    for role in ("anon", "B", "Q", "staff", "A", "P"):
        response = _call(api_client, world, role, method, path)
        observed[role] = response.status_code
        if response.get("Content-Type", "").startswith("application/json") and response.status_code >= 400:
            assert set(json.loads(response.content)) == {"code", "message", "details"}

    # then
    assert {role: observed[role] for role in ROLES} == expected, path
