"""Bad input on every endpoint of the spine: a 4xx in the one error shape, nothing written."""
import json

import pytest

from accounts.models import CustomerProfile, LedgerEntry
from activation.models import IdempotencyKey, Transaction
from offers.models import Subscription
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "details"}


def table_counts() -> dict:
    return {model.__name__: model.objects.count()
            for model in (Transaction, IdempotencyKey, LedgerEntry, Subscription, CustomerProfile)}


@pytest.fixture
def alice():
    return customer(username="alice", balance="100")


@pytest.fixture
def offer():
    return OfferFactory()


def raw_post(client, path, body: bytes, user, content_type="application/json"):
    return client.generic("POST", path, body, content_type=content_type, HTTP_AUTHORIZATION=bearer(user))


POST_BODIES = [
    ("/api/v1/activation/", {}, 400),
    ("/api/v1/activation/", {"offer_id": "abc"}, 400),
    ("/api/v1/activation/", {"offer_id": -1}, 400),
    ("/api/v1/activation/", {"offer_id": 10**30}, 400),
    ("/api/v1/activation/", {"offer_id": 1.5}, 400),
    ("/api/v1/activation/", {"offer_id": None}, 400),
    ("/api/v1/activation/", {"offer_id": 999999}, 400),
    ("/api/v1/activation/", {"offer_id": "OFFER", "extra": 1}, 400),
    ("/api/v1/activation/", [1, 2], 400),
    ("/api/v1/activation/", "just a string", 400),
    ("/api/v1/offers/renew/", {}, 400),
    ("/api/v1/offers/renew/", {"subscription_id": 424242}, 400),
    ("/api/v1/offers/renew/", {"subscription_id": "x"}, 400),
    ("/api/v1/auth/login/", {}, 400),
    ("/api/v1/auth/login/", {"username": ["a"], "password": {"b": 1}}, 400),
    ("/api/v1/auth/refresh/", {"refresh": 12}, 401),
    ("/api/v1/auth/logout/", {}, 400),
]


@pytest.mark.parametrize("path,body,status", POST_BODIES)
def test_bad_post_bodies(api_client, alice, offer, path, body, status):
    # given
    if isinstance(body, dict) and body.get("offer_id") == "OFFER":
        body["offer_id"] = offer.id
    before = table_counts()

    # when
    response = raw_post(api_client, path, json.dumps(body).encode(), alice)

    # then
    assert response.status_code == status, response.content
    assert set(response.json()) == ERROR_KEYS
    assert table_counts() == before


@pytest.mark.parametrize("body,status,code", [
    (b'{"offer_id": ', 400, "malformed_request"),
    (b"\xff\xfe\x00", 400, "malformed_request"),
    (b'{"offer_id": 1e999999}', 400, None),
    (b"[" * 50 + b"]" * 50, 400, "malformed_request"),
    (b'{"pad": "' + b"x" * 70000 + b'"}', 413, "payload_too_large"),
])
def test_malformed_deep_or_oversized_json(api_client, alice, body, status, code):
    before = table_counts()
    response = raw_post(api_client, "/api/v1/activation/", body, alice)
    assert response.status_code == status, response.content
    assert set(response.json()) == ERROR_KEYS
    if code:
        assert response.json()["code"] == code
    assert table_counts() == before


def test_a_non_json_content_type_is_415(api_client, alice):
    response = raw_post(api_client, "/api/v1/activation/", b"offer_id=1", alice,
                        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert set(response.json()) == ERROR_KEYS


def test_renewing_another_customers_subscription_is_refused(api_client, alice, offer):
    bob = customer()
    subscription = Subscription.objects.create(user=bob, offer=offer, started_at="2026-01-01T00:00Z",
                                               expires_at="2026-02-01T00:00Z")
    before = table_counts()
    response = raw_post(api_client, "/api/v1/offers/renew/", json.dumps({"subscription_id": subscription.id}).encode(),
                        alice)
    assert response.status_code == 400
    assert table_counts() == before


@pytest.mark.parametrize("path", [
    "/api/v1/offers/?category=bogus",
    "/api/v1/offers/?page_size=0",
    "/api/v1/offers/?page=abc",
    "/api/v1/offers/expiring/?days=0",
    "/api/v1/offers/expiring/?days=abc",
    "/api/v1/account/transactions/?status=LOST",
    "/api/v1/activation/status/00000000-0000-0000-0000-000000000000/?wait=abc",
    "/api/v1/activation/status/00000000-0000-0000-0000-000000000000/?wait=31",
])
def test_bad_query_parameters_are_400(api_client, alice, path):
    response = api_client.get(path, HTTP_AUTHORIZATION=bearer(alice))
    assert response.status_code in (400, 404), response.content
    assert set(response.json()) == ERROR_KEYS


@pytest.mark.parametrize("path", [
    "/api/v1/offers/999999/",
    "/api/v1/account/transactions/00000000-0000-0000-0000-000000000000/",
    "/api/v1/activation/status/00000000-0000-0000-0000-000000000000/",
    "/api/v1/account/transactions/not-a-uuid/",
    "/api/v1/nowhere/",
])
def test_unknown_resources_are_404_in_the_error_shape(api_client, alice, path):
    response = api_client.get(path, HTTP_AUTHORIZATION=bearer(alice))
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS


@pytest.mark.parametrize("body", [
    {"timezone": "Mars/Olympus"},
    {"latitude": "100"},
    {"longitude": "-181"},
    {"latitude": "1.1234567"},
    {"phone": "call me"},
    {"email": "not-an-email"},
    {"is_staff": True},
    {"segment": "premium"},
])
def test_bad_profile_updates_are_400_and_change_nothing(api_client, alice, body):
    before = CustomerProfile.objects.values().get(user=alice)
    response = api_client.patch("/api/v1/auth/profile/", body, format="json", HTTP_AUTHORIZATION=bearer(alice))
    assert response.status_code == 400, response.content
    assert set(response.json()) == ERROR_KEYS
    assert CustomerProfile.objects.values().get(user=alice) == before
    alice.refresh_from_db()
    assert not alice.is_staff


def test_wrong_methods_are_405(api_client, alice):
    response = api_client.delete("/api/v1/activation/", HTTP_AUTHORIZATION=bearer(alice))
    assert response.status_code == 405
    assert set(response.json()) == ERROR_KEYS
