"""Every input limit, across the endpoints of each kind of caller (customer, staff, signed
partner): body size 413, JSON nesting 400, string lengths 400, decimal precision and range
400, page sizes 1-100, and transaction ids that cannot be enumerated. Each refusal is in
the error shape and writes nothing. tests/test_bad_input.py has finer cases for the
customer endpoints."""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from django.apps import apps
from django.conf import settings
from django.urls import resolve
from rest_framework.mixins import ListModelMixin

from activation.models import Transaction
from tests.factories import OfferFactory, bearer, customer
from tests.flash.factories import ProductFactory, StoreFactory
from tests.partners.signing import partner, signed_headers
from tests.security.test_permission_matrix import ENDPOINTS

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "details"}
NESTED = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}  # 9 levels; the cap is 8
OVERSIZED_PAD = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
LONG = "x" * 5000


def _rows() -> int:
    """Every row in every table the API can write to."""
    return sum(model.objects.count() for model in apps.get_models()
               if model._meta.app_label in {"accounts", "activation", "offers", "partners", "notifications",
                                            "campaigns", "codes", "flash"})


@pytest.fixture
def callers():
    staff = customer(username="limits-staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    return {"customer": customer(balance="100.00", phone="+33622220001"), "staff": staff, "partner": partner()}


def _send(client, callers, role: str, method: str, path: str, body: bytes, headers: dict | None = None):
    headers = dict(headers or {})
    if role == "partner":
        signed = signed_headers(callers["partner"], method, path, body)
        signed.pop("Content-Type")
        headers.update(signed)
    else:
        headers["Authorization"] = bearer(callers[role])
    return client.generic(method, path, data=body, content_type="application/json", headers=headers)


# One write endpoint per kind of caller, with a body that is otherwise valid.
WRITES = [
    ("customer", "POST", "/api/v1/activation/", lambda: {"offer_id": OfferFactory().id}),
    ("customer", "PATCH", "/api/v1/auth/profile/", lambda: {"first_name": "Ann"}),
    ("customer", "POST", "/api/v1/discounts/available/", lambda: {"cart_value": "10.00"}),
    ("staff", "POST", "/api/v1/market/stores/", lambda: {"name": "S", "address": "A", "latitude": "48.1",
                                                          "longitude": "2.1"}),
    ("staff", "POST", "/api/v1/market/products/", lambda: {"store_id": StoreFactory().id, "name": "P",
                                                            "regular_price": "10.00", "currency": "EUR"}),
    ("partner", "POST", "/api/v1/partner/activate/", lambda: {"reference": "lim-1", "customer": "+33622220001",
                                                               "offer_id": OfferFactory().id}),
]


def _refused(response, status: int, rows_before: int, code: str | None = None) -> None:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == ERROR_KEYS
    if code:
        assert body["code"] == code
    assert _rows() == rows_before


@pytest.mark.parametrize("role,method,path,valid", WRITES, ids=[f"{m} {p}" for _, m, p, _ in WRITES])
def test_an_oversized_body_is_413(api_client, callers, role, method, path, valid):
    body = json.dumps({**valid(), "pad": OVERSIZED_PAD}).encode()
    before = _rows()
    _refused(_send(api_client, callers, role, method, path, body), 413, before, "payload_too_large")


@pytest.mark.parametrize("role,method,path,valid", WRITES, ids=[f"{m} {p}" for _, m, p, _ in WRITES])
def test_json_nested_deeper_than_the_cap_is_400(api_client, callers, role, method, path, valid):
    body = json.dumps({**valid(), "extra": NESTED}).encode()
    before = _rows()
    _refused(_send(api_client, callers, role, method, path, body), 400, before, "malformed_request")


def test_a_chunked_oversized_body_is_413_on_the_live_server(live_web):
    # given: no Content-Length, so only reading the stream can notice the size
    def chunks():
        yield b'{"pad": "'
        for _ in range(settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    # when
    response = requests.post(f"{live_web.url}/api/v1/auth/login/", data=chunks(),
                             headers={"Content-Type": "application/json"}, timeout=30)

    # then
    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "payload_too_large"


STRINGS = [
    ("customer", "PATCH", "/api/v1/auth/profile/", {"first_name": LONG}),
    ("customer", "PATCH", "/api/v1/auth/profile/", {"first_name": "nul\u0000byte"}),
    ("customer", "PATCH", "/api/v1/auth/profile/", {"timezone": LONG}),
    ("customer", "POST", "/api/v1/discounts/redeem/", {"cart_value": "10.00", "campaign_id": 1,
                                                         "order_reference": LONG}),
    ("staff", "POST", "/api/v1/market/stores/", {"name": LONG, "address": "A", "latitude": "1", "longitude": "1"}),
    ("staff", "POST", "/api/v1/market/stores/", {"name": "a\u0000b", "address": "A", "latitude": "1",
                                                  "longitude": "1"}),
    ("staff", "POST", "/api/v1/campaigns/", {"name": LONG}),
    ("partner", "POST", "/api/v1/partner/activate/", {"reference": LONG, "customer": "+33622220001", "offer_id": 1}),
    ("partner", "POST", "/api/v1/partner/activate/", {"reference": "r", "customer": LONG, "offer_id": 1}),
    ("partner", "POST", "/api/v1/partner/activate/", {"reference": "r\u0000", "customer": "+33622220001",
                                                       "offer_id": 1}),
    ("partner", "POST", "/api/v1/partner/activate/", {"reference": "r", "customer": "+33622220001", "offer_id": 1,
                                                       "callback_url": "https://x.example/" + LONG}),
]


@pytest.mark.parametrize("role,method,path,body", STRINGS)
def test_strings_too_long_or_with_nul_are_400(api_client, callers, role, method, path, body):
    before = _rows()
    _refused(_send(api_client, callers, role, method, path, json.dumps(body).encode()), 400, before)


def test_login_with_a_huge_username_is_refused_without_a_500(api_client):
    response = api_client.post("/api/v1/auth/login/", {"username": LONG * 10, "password": LONG}, format="json")
    assert response.status_code in (400, 401)
    assert set(response.json()) == ERROR_KEYS


def test_an_idempotency_key_longer_than_255_is_400(api_client, callers):
    body = json.dumps({"offer_id": OfferFactory().id}).encode()
    before = _rows()
    response = _send(api_client, callers, "customer", "POST", "/api/v1/activation/", body,
                     {"Idempotency-Key": "k" * 256})
    _refused(response, 400, before)


DECIMALS = [
    ("customer", "POST", "/api/v1/discounts/available/", {"cart_value": "10.001"}),  # precision
    ("customer", "POST", "/api/v1/discounts/available/", {"cart_value": "-1"}),  # range
    ("customer", "POST", "/api/v1/discounts/available/", {"cart_value": "1e30"}),
    ("customer", "POST", "/api/v1/discounts/available/", {"cart_value": "NaN"}),
    ("customer", "POST", "/api/v1/discounts/available/", {"cart_value": "Infinity"}),
    ("customer", "PATCH", "/api/v1/auth/profile/", {"latitude": "45.1234567"}),
    ("customer", "PATCH", "/api/v1/auth/profile/", {"longitude": "180.000001"}),
    ("staff", "POST", "/api/v1/market/products/", {"name": "P", "regular_price": "0.001", "currency": "EUR"}),
    ("staff", "POST", "/api/v1/market/products/", {"name": "P", "regular_price": "0", "currency": "EUR"}),
    ("staff", "POST", "/api/v1/market/products/", {"name": "P", "regular_price": "12345678901.00",
                                                    "currency": "EUR"}),
    ("staff", "POST", "/api/v1/market/stores/", {"name": "S", "address": "A", "latitude": "90.5",
                                                  "longitude": "1"}),
]


@pytest.mark.parametrize("role,method,path,body", DECIMALS)
def test_decimals_out_of_precision_or_range_are_400(api_client, callers, role, method, path, body):
    if "store_id" not in body and path.endswith("/products/"):
        body = {**body, "store_id": StoreFactory().id}
    before = _rows()
    _refused(_send(api_client, callers, role, method, path, json.dumps(body).encode()), 400, before)


@pytest.mark.parametrize("raw", [b'{"cart_value": 1e999999}', b'{"cart_value": NaN}', b'{"cart_value": -Infinity}',
                                 b'{"cart_value": 0.1234567890123456789012345678901234567890}'])
def test_json_number_literals_that_are_not_money_are_400(api_client, callers, raw):
    before = _rows()
    _refused(_send(api_client, callers, "customer", "POST", "/api/v1/discounts/available/", raw), 400, before)


def _is_paginated_list(route: str) -> bool:
    view = getattr(resolve("/" + route).func, "view_class", None)
    return isinstance(view, type) and issubclass(view, ListModelMixin) and view.pagination_class is not None


# Every list endpoint, found from the URL resolver like the permission matrix.
PAGINATED = sorted({(name, route) for name, method, route in ENDPOINTS
                    if method == "get" and "<" not in route and _is_paginated_list(route)})
STAFF_LISTS = {"campaign-list", "store-list", "product-list", "flash-promo-list", "customer-list", "profile-list"}


@pytest.mark.parametrize("name,route", PAGINATED, ids=[n for n, _ in PAGINATED])
def test_page_sizes_are_1_to_100_on_every_list(api_client, callers, name, route):
    role = "staff" if name in STAFF_LISTS else "customer"
    extra = "&cart_value=10.00" if name == "discounts-usage" else ""
    statuses = {size: _send(api_client, callers, role, "GET", f"/{route}?page_size={size}{extra}", b"").status_code
                for size in ("1", "100", "0", "101", "-1", "abc", "1e2", "99999999999999999999")}
    assert statuses == {"1": 200, "100": 200, "0": 400, "101": 400, "-1": 400, "abc": 400, "1e2": 400,
                        "99999999999999999999": 400}


def test_transaction_ids_are_random_uuids_not_sequence_numbers(api_client, callers):
    # given
    offer = OfferFactory()

    # when
    ids = [_send(api_client, callers, "customer", "POST", "/api/v1/activation/",
                 json.dumps({"offer_id": offer.id}).encode()).json()["transaction_id"] for _ in range(3)]

    # then: version-4 UUIDs (122 random bits), and integers are not even routed
    assert all(uuid.UUID(value).version == 4 for value in ids)
    assert len(set(ids)) == 3
    assert Transaction._meta.pk.get_internal_type() == "UUIDField"
    guess = _send(api_client, callers, "customer", "GET", "/api/v1/account/transactions/1/", b"")
    assert guess.status_code == 404


def test_a_small_chunked_body_is_read_not_ignored_on_the_live_server(live_web):
    # given: a chunked body under the cap (DRF alone would see no Content-Length and an empty body)
    def chunks():
        yield b'{"username": "nobody", '
        yield b'"password": "wrong-password"}'

    # when
    response = requests.post(f"{live_web.url}/api/v1/auth/login/", data=chunks(),
                             headers={"Content-Type": "application/json"}, timeout=30)

    # then: the credentials were read and refused, not reported missing
    assert response.status_code == 401, response.text[:300]
