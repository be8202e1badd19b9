import base64
import json
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from activation.models import Transaction
from offers.services import KIND_OFFER_ACTIVATION
from tests.factories import PASSWORD, bearer, customer

pytestmark = pytest.mark.django_db


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_login_with_username_or_email_returns_a_token_pair(api_client):
    user = customer(username="carol")
    for login in ("carol", "carol@example.com"):
        response = api_client.post("/api/v1/auth/login/", {"username": login, "password": PASSWORD}, format="json")
        assert response.status_code == 200, response.json()
        assert set(response.json()) == {"access", "refresh"}
    assert user.is_active


def test_wrong_password_is_401_in_the_error_shape(api_client):
    customer(username="dave")
    response = api_client.post("/api/v1/auth/login/", {"username": "dave", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}


@pytest.mark.parametrize("case", ["missing", "expired", "tampered", "alg_none", "garbage", "refresh_as_access"])
def test_bad_tokens_are_401(api_client, case):
    # given
    user = customer()
    token = AccessToken.for_user(user)
    if case == "expired":
        token.set_exp(lifetime=-timedelta(seconds=1))
    header = {
        "missing": None,
        "expired": f"Bearer {token}",
        "tampered": f"Bearer {str(token)[:-4]}AAAA",
        "alg_none": "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(
            {"token_type": "access", "user_id": str(user.id), "exp": 4102444800, "jti": "x"}) + ".",
        "garbage": "Bearer not-a-jwt",
        "refresh_as_access": f"Bearer {RefreshToken.for_user(user)}",
    }[case]

    # when
    response = api_client.get("/api/v1/account/balance/", **({"HTTP_AUTHORIZATION": header} if header else {}))

    # then
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}


def test_refresh_rotates_and_logout_blacklists_the_refresh_token(api_client):
    # given
    customer(username="erin")
    tokens = api_client.post("/api/v1/auth/login/", {"username": "erin", "password": PASSWORD}, format="json").json()

    # when
    rotated = api_client.post("/api/v1/auth/refresh/", {"refresh": tokens["refresh"]}, format="json")
    reused = api_client.post("/api/v1/auth/refresh/", {"refresh": tokens["refresh"]}, format="json")
    logout = api_client.post("/api/v1/auth/logout/", {"refresh": rotated.json()["refresh"]}, format="json")
    after_logout = api_client.post("/api/v1/auth/refresh/", {"refresh": rotated.json()["refresh"]}, format="json")

    # then
    assert rotated.status_code == 200 and rotated.json()["refresh"] != tokens["refresh"]
    assert reused.status_code == 401  # blacklisted after rotation
    assert logout.status_code == 200
    assert after_logout.status_code == 401
    assert after_logout.json()["code"] == "token_not_valid"


def test_a_customer_cannot_read_another_customers_transaction(api_client):
    # given
    alice, bob = customer(), customer()
    txn = Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=alice, payload={})

    # when
    as_bob = api_client.get(f"/api/v1/account/transactions/{txn.id}/", HTTP_AUTHORIZATION=bearer(bob))
    as_bob_status = api_client.get(f"/api/v1/activation/status/{txn.id}/", HTTP_AUTHORIZATION=bearer(bob))
    as_bob_list = api_client.get("/api/v1/account/transactions/", HTTP_AUTHORIZATION=bearer(bob))
    as_alice = api_client.get(f"/api/v1/account/transactions/{txn.id}/", HTTP_AUTHORIZATION=bearer(alice))

    # then
    assert as_bob.status_code == 404 and as_bob.json()["code"] == "not_found"
    assert as_bob_status.status_code == 404
    assert as_bob_list.json()["count"] == 0
    assert as_alice.status_code == 200


def test_profile_can_be_read_and_updated(api_client):
    user = customer()
    response = api_client.patch("/api/v1/auth/profile/", {"timezone": "America/Sao_Paulo", "email_opt_out": True},
                                format="json", HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 200, response.json()
    profile = api_client.get("/api/v1/auth/profile/", HTTP_AUTHORIZATION=bearer(user)).json()
    assert profile["timezone"] == "America/Sao_Paulo"
    assert profile["email_opt_out"] is True
    # the location is set by staff (tests/accounts/test_location.py)


def test_security_headers_are_on_every_response(api_client):
    response = api_client.get("/api/v1/offers/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
