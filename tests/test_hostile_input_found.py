"""Inputs an adversarial review found answered with a 500; each gets its 4xx in the error shape
and writes nothing. Digits are read by kernel.text.ascii_digits ("²" is a digit to
str.isdigit, not to int()); a partner reference that could never be accepted is absent; a
callback URL with an out-of-range port is refused; a partner's throttle rate and callback
URL are validated in the admin as in the service."""
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from activation.models import Transaction
from offers.codes.services import code_pool_create
from partners.models import Partner
from partners.services import partner_create
from kernel.errors import ApplicationError
from kernel.text import ascii_digits
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, bearer, customer
from tests.partners.signing import (ACTIVATE, body_of, get_signed, partner, post_signed, reverse_path, sign,
                                    signed_headers, validate_path)

pytestmark = pytest.mark.django_db
SUPERSCRIPT_TWO = "\u00b2"


@pytest.fixture
def client():
    api = APIClient()
    api.raise_request_exception = False
    return api


@pytest.fixture
def admin_client():
    browser = Client()
    browser.raise_request_exception = False
    browser.force_login(User.objects.create_superuser("hostile-root", "hostile-root@example.com", "pw-123456"))
    return browser


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"code", "message", "details"} and (code is None or body["code"] == code), body


@pytest.mark.parametrize("text, digits", [("0", True), ("123456789012345678", True), ("1" * 19, False),
                                          (SUPERSCRIPT_TWO, False), ("\u0661", False), ("", False), ("1e9", False),
                                          (" 12", False), ("-5", False)])
def test_ascii_digits_is_what_int_takes(text, digits):
    assert ascii_digits(text) is digits


@pytest.mark.parametrize("timestamp", [SUPERSCRIPT_TWO, "1" * 5000])
def test_a_hostile_partner_timestamp_is_401(client, timestamp):
    alice = customer(balance="50.00", phone="+33600000101")
    credentials = partner(customers=[alice])
    raw = body_of({"reference": "ref-1", "customer": alice.profile.phone, "offer_id": OfferFactory().id})
    headers = signed_headers(credentials, "POST", ACTIVATE, raw)
    headers["X-Partner-Timestamp"] = timestamp
    headers["X-Partner-Signature"] = sign(credentials.secret, "POST", ACTIVATE, timestamp, raw)

    response = client.generic("POST", ACTIVATE, data=raw, content_type=headers.pop("Content-Type"), headers=headers)

    assert_error(response, 401, "signature_expired")
    assert not Transaction.objects.exists()


def test_a_hostile_page_size_is_400(client):
    response = client.get(f"/api/v1/notifications/?page_size={SUPERSCRIPT_TWO}",
                          HTTP_AUTHORIZATION=bearer(customer()))

    assert_error(response, 400)
    assert list(response.json()["details"]) == ["page_size"]


@pytest.mark.parametrize("reference", [SUPERSCRIPT_TWO, "\u00b9\u00b2"])
def test_a_code_grant_to_a_hostile_customer_reference_is_400(client, reference):
    member = customer(username=f"member-{uuid.uuid4().hex[:6]}")
    brand = BrandFactory(name=f"Brand {uuid.uuid4().hex[:6]}")
    brand.staff.add(member)
    pool = code_pool_create(brand=brand, name="Gifts", total_count=3)

    response = client.post(f"/api/v1/codes/pools/{pool.id}/grant/", {"customer": reference}, format="json",
                           HTTP_AUTHORIZATION=bearer(member))

    assert_error(response, 400)
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("reference", ["%00", "a%00b"])
def test_a_partner_reference_with_a_nul_is_404(client, reference):
    credentials = partner()

    validated = get_signed(client, credentials, validate_path(reference))
    reversed_ = post_signed(client, credentials, b"{}", path=reverse_path(reference))

    assert_error(validated, 404, "not_found")
    assert_error(reversed_, 404, "not_found")


@pytest.mark.parametrize("blocking", [True, False])
def test_a_callback_url_with_an_out_of_range_port_is_400(client, settings, blocking):
    settings.PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS = blocking
    alice = customer(balance="50.00", phone="+33600000102")
    credentials = partner(customers=[alice])

    response = post_signed(client, credentials, {"reference": "p-1", "customer": alice.profile.phone,
                                                 "offer_id": OfferFactory().id,
                                                 "callback_url": "http://example.com:99999/cb"})

    assert_error(response, 400)
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("rate", ["600 per minute", "abc/min", "600/x", "0/min"])
def test_a_partner_throttle_rate_drf_cannot_read_is_refused(rate):
    with pytest.raises(ApplicationError) as refused:
        partner_create(name="bad-rate", throttle_rate=rate)

    assert refused.value.code == "throttle_rate_invalid"
    assert not Partner.objects.exists()


def test_the_partner_admin_refuses_a_private_callback_url_and_a_bad_throttle_rate(admin_client, settings):
    settings.PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS = True
    existing = partner(name="kept", callback_url="")
    links = {"customer_links-TOTAL_FORMS": "0", "customer_links-INITIAL_FORMS": "0",
             "customer_links-MIN_NUM_FORMS": "0", "customer_links-MAX_NUM_FORMS": "1000"}

    added = admin_client.post("/admin/partners/partner/add/", {
        "name": "evil", "is_active": "on", "callback_url": "http://127.0.0.1/hook", "throttle_rate": "", **links})
    changed = admin_client.post(f"/admin/partners/partner/{existing.partner.pk}/change/", {
        "name": "kept", "is_active": "on", "callback_url": "http://169.254.169.254/latest",
        "throttle_rate": "nonsense", **links})

    assert added.status_code == 200 and "private or reserved network" in added.content.decode()
    assert changed.status_code == 200 and "private or reserved network" in changed.content.decode()
    assert 'A number of requests from 1' in changed.content.decode()
    assert list(Partner.objects.values_list("name", "callback_url", "throttle_rate")) == [("kept", "", "")]
