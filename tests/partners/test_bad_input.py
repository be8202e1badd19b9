"""Bad partner input is a 4xx in the error shape, and nothing is written."""
import pytest

from activation.models import IdempotencyKey, Transaction
from partners.models import PartnerActivation
from tests.factories import OfferFactory, customer
from tests.partners.signing import partner, post_signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob():
    return customer(balance="50.00", phone="+33699999999")


@pytest.fixture
def valid_body(bob):
    return {"reference": "OK-1", "customer": "+33699999999", "offer_id": OfferFactory().id}


@pytest.fixture
def linked_partner(bob):
    """Makes partners linked to bob, so that only the field under test is wrong."""
    return lambda: partner(customers=[bob])


def _nothing_written():
    assert Transaction.objects.count() == 0
    assert PartnerActivation.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.parametrize("change, field, code", [
    ({"customer": "+33000000000"}, "customer", "unknown_customer"),
    ({"customer": "nobody@example.com"}, "customer", "unknown_customer"),
    ({"offer_id": 999999}, "offer_id", "unknown_offer"),
    ({"offer_id": "abc"}, "offer_id", "invalid"),
    ({"reference": "has spaces"}, "reference", "invalid"),
    ({"reference": "x" * 65}, "reference", "invalid"),
    ({"reference": ""}, "reference", "blank"),
    ({"reference": "../etc"}, "reference", "invalid"),
    ({"callback_url": "ftp://example.com/hook"}, "callback_url", "invalid"),
    ({"callback_url": "javascript:alert(1)"}, "callback_url", "invalid"),
    ({"surprise": 1}, "surprise", None),
])
def test_invalid_fields_are_400_and_nothing_is_written(api_client, valid_body, linked_partner, change, field,
                                                       code):
    # when
    response = post_signed(api_client, linked_partner(), {**valid_body, **change})

    # then
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "validation_error" and field in body["details"]
    _nothing_written()


def test_a_missing_field_is_400(api_client, valid_body):
    # when
    response = post_signed(api_client, partner(), {"reference": "OK-2"})

    # then
    assert response.status_code == 400
    assert {"customer", "offer_id"} <= set(response.json()["details"])
    _nothing_written()


def test_an_oversized_body_is_413(api_client, valid_body):
    # when
    response = post_signed(api_client, partner(), {**valid_body, "pad": "x" * 70_000})

    # then
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    _nothing_written()


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'"text"'])
def test_a_malformed_body_is_400(api_client, valid_body, raw):
    # when
    response = post_signed(api_client, partner(), raw)

    # then
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}
    _nothing_written()


def test_a_private_callback_url_is_refused_when_private_networks_are_blocked(api_client, valid_body, linked_partner,
                                                                            settings):
    # given
    settings.PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS = True

    # when
    responses = [post_signed(api_client, linked_partner(), {**valid_body, "callback_url": url})
                 for url in ["http://127.0.0.1:8000/hook", "http://10.1.2.3/hook", "http://169.254.169.254/",
                             "http://[::1]/hook", "http://localhost/hook"]]

    # then
    assert [r.status_code for r in responses] == [400] * 5
    assert all(r.json()["details"]["callback_url"] for r in responses)
    _nothing_written()
