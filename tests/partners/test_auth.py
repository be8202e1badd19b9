"""Signed requests: accepted, or 401 (missing, wrong, expired, replayed), 403 (inactive), 429."""
import time
from types import SimpleNamespace

import pytest

from activation.models import Transaction
from tests.factories import OfferFactory, customer
from tests.partners.signing import ACTIVATE, body_of, partner, post_signed, signed_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return customer(balance="50.00", phone="+33600000001")


@pytest.fixture
def activation_body(alice):
    offer = OfferFactory()
    return {"reference": "ref-1", "customer": alice.profile.phone, "offer_id": offer.id}


def test_a_signed_request_is_accepted(api_client, activation_body, alice):
    # given
    credentials = partner(customers=[alice])

    # when
    response = post_signed(api_client, credentials, activation_body)

    # then
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["reference"] == "ref-1" and body["status"] == "PENDING"
    assert Transaction.objects.filter(pk=body["transaction_id"]).exists()


def test_a_request_without_signature_headers_is_401(api_client, activation_body):
    # when
    response = api_client.post(ACTIVATE, activation_body, format="json")

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert set(response.json()) == {"code", "message", "details"}
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize("tamper", ["signature", "body", "key", "secret"])
def test_a_wrong_signature_is_401(api_client, activation_body, tamper):
    # given
    credentials, other = partner(), partner()
    body = body_of(activation_body)
    headers = signed_headers(other if tamper == "secret" else credentials, "POST", ACTIVATE, body)
    if tamper == "secret":
        headers["X-Partner-Key"] = credentials.key_id
    if tamper == "signature":
        headers["X-Partner-Signature"] = "0" * 64
    if tamper == "body":
        body = body_of({**activation_body, "offer_id": activation_body["offer_id"] + 1})
    if tamper == "key":
        headers["X-Partner-Key"] = "pk_unknown"

    # when
    response = api_client.generic("POST", ACTIVATE, data=body, content_type=headers.pop("Content-Type"),
                                  headers=headers)

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_outside_five_minutes_is_401(api_client, activation_body, skew, monkeypatch):
    # given: the server's clock stands still at a whole second, so the skew it sees is exactly
    # `skew` (with a running clock, a second boundary between signing and checking makes
    # +301 look like +300.x, inside the window)
    credentials = partner()
    now = int(time.time())
    monkeypatch.setattr("partners.authentication.time", SimpleNamespace(time=lambda: float(now)))

    # when
    response = post_signed(api_client, credentials, activation_body, timestamp=now + skew)

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "signature_expired"
    assert Transaction.objects.count() == 0


def test_a_replayed_signature_is_401(api_client, activation_body, alice):
    # given: one request accepted
    credentials = partner(customers=[alice])
    body = body_of(activation_body)
    headers = signed_headers(credentials, "POST", ACTIVATE, body)
    content_type = headers.pop("Content-Type")
    first = api_client.generic("POST", ACTIVATE, data=body, content_type=content_type, headers=headers)

    # when: the same bytes and headers again
    replay = api_client.generic("POST", ACTIVATE, data=body, content_type=content_type, headers=headers)

    # then
    assert first.status_code == 202
    assert replay.status_code == 401
    assert replay.json()["code"] == "signature_replayed"


def test_an_inactive_partner_is_403(api_client, activation_body, alice):
    # given
    credentials = partner(customers=[alice])
    credentials.partner.is_active = False
    credentials.partner.save()

    # when
    response = post_signed(api_client, credentials, activation_body)

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "partner_inactive"
    assert Transaction.objects.count() == 0


def test_rotated_credentials_replace_the_old_ones(api_client, activation_body, alice):
    # given
    from partners.services import partner_credentials_rotate

    old = partner(customers=[alice])
    # revoked at once (a leaked secret); the overlap window is tests/partners/test_rotation.py
    new = partner_credentials_rotate(partner=old.partner, revoke_previous=True)

    # when
    with_old = post_signed(api_client, old, activation_body)
    with_new = post_signed(api_client, new, activation_body)

    # then
    assert with_old.status_code == 401
    assert with_new.status_code == 202


def test_each_partner_is_throttled_at_its_own_rate(api_client, activation_body, alice):
    # given: a partner allowed 2 requests a minute, and another at the default rate
    slow, other = partner(throttle_rate="2/min", customers=[alice]), partner(customers=[alice])

    # when
    now = int(time.time())
    statuses = [post_signed(api_client, slow, activation_body, timestamp=now - i).status_code for i in range(3)]
    throttled = post_signed(api_client, slow, activation_body, timestamp=now - 10)
    unaffected = post_signed(api_client, other, activation_body)

    # then
    assert statuses == [202, 202, 429]
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert throttled.json()["code"] == "throttled"
    assert unaffected.status_code == 202
