"""Requests under /api/v1/ without the trailing slash are served exactly as with it, for
every method (Django's APPEND_SLASH answered a POST with a 301 that clients follow as a GET,
so the POST was lost)."""
import json

import pytest

from activation.models import Transaction
from offers.campaigns.models import Campaign
from tests.factories import OfferFactory, bearer, customer
from tests.partners.signing import body_of, partner, signed_headers

pytestmark = pytest.mark.django_db

CAMPAIGN = {"name": "Slashless", "target": "cart", "kind": "percentage", "value": "15", "starts_on": "2026-03-01",
            "ends_on": "2026-03-31", "timezone": "UTC", "total_budget": "500.00", "status": "active"}


def test_a_slashless_post_creates_exactly_what_the_slashed_one_does(api_client):
    # given
    auth = {"HTTP_AUTHORIZATION": bearer(customer(is_staff=True))}

    # when
    slashless = api_client.post("/api/v1/campaigns", CAMPAIGN, format="json", **auth)
    slashed = api_client.post("/api/v1/campaigns/", CAMPAIGN, format="json", **auth)

    # then
    assert (slashless.status_code, slashed.status_code) == (201, 201), slashless.content
    assert Campaign.objects.count() == 2
    differing = {"id", "created_at", "updated_at"}
    assert ({k: v for k, v in slashless.json().items() if k not in differing}
            == {k: v for k, v in slashed.json().items() if k not in differing})


def test_a_slashless_activation_is_accepted(api_client):
    # given
    offer = OfferFactory()
    user = customer(balance="100.00")

    # when
    response = api_client.post("/api/v1/activation", {"offer_id": offer.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))

    # then
    assert response.status_code == 202, response.content
    assert Transaction.objects.filter(user=user, pk=response.json()["transaction_id"]).count() == 1


def test_slashless_patch_and_get_answer_as_the_slashed_ones(api_client):
    # given
    user = customer()
    auth = {"HTTP_AUTHORIZATION": bearer(user)}
    OfferFactory()
    txn = Transaction.objects.create(kind="offer_activation", user=user, payload={})

    # when
    patched = api_client.patch("/api/v1/auth/profile", {"timezone": "Asia/Tokyo"}, format="json", **auth)
    slashless, slashed = (api_client.get(path, **auth) for path in ("/api/v1/offers", "/api/v1/offers/"))
    detail = api_client.get(f"/api/v1/account/transactions/{txn.id}", **auth)

    # then
    assert patched.status_code == 200 and patched.json()["timezone"] == "Asia/Tokyo"
    assert (slashless.status_code, json.loads(slashless.content)) == (slashed.status_code, json.loads(slashed.content))
    assert detail.status_code == 200


def test_a_partner_signs_the_path_it_sent(api_client):
    # given: the signature covers the path as sent, without the slash
    credentials = partner(customers=[customer(phone="+33677777777", balance="100.00")])
    body = body_of({"reference": "slashless-1", "customer": "+33677777777", "offer_id": OfferFactory().id})
    headers = signed_headers(credentials, "POST", "/api/v1/partner/activate", body)

    # when
    response = api_client.generic("POST", "/api/v1/partner/activate", data=body,
                                  content_type=headers.pop("Content-Type"), headers=headers)

    # then
    assert response.status_code == 202, response.content


def test_unknown_api_paths_stay_404_and_other_paths_keep_django_s_redirect(api_client):
    assert api_client.post("/api/v1/nowhere", {}, format="json").status_code == 404
    assert api_client.get("/api/v1/nowhere").json()["code"] == "not_found"
    redirect = api_client.get("/admin")
    assert redirect.status_code == 301 and redirect["Location"] == "/admin/"
