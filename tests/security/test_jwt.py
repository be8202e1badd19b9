"""JWT refusals beyond tests/accounts/test_auth.py: every forged or revoked token is a 401 in
the error shape on a read, on a write (nothing is accepted) and on the async status view,
which authenticates on its own."""
import base64
import json
import time
import uuid

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from activation.models import Transaction
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user, **extra) -> dict:
    return {"token_type": "access", "user_id": str(user.id), "exp": int(time.time()) + 600,
            "iat": int(time.time()), "jti": uuid.uuid4().hex, **extra}


def _token(case: str, user) -> str:
    if case == "wrong_signing_key":
        return jwt.encode(_claims(user), "not-the-signing-key-" + "x" * 32, algorithm="HS256")
    if case == "alg_none_capitalised":
        return _b64({"alg": "None", "typ": "JWT"}) + "." + _b64(_claims(user)) + "."
    if case == "alg_hs512_with_the_real_key":  # only HS256 is accepted
        return jwt.encode(_claims(user), settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS512")
    if case == "expired":
        return jwt.encode(_claims(user, exp=int(time.time()) - 5), settings.SIMPLE_JWT["SIGNING_KEY"],
                          algorithm="HS256")
    if case == "refresh_as_access":
        return str(RefreshToken.for_user(user))
    if case == "blacklisted_refresh_as_access":
        refresh = RefreshToken.for_user(user)
        refresh.blacklist()
        return str(refresh)
    if case == "unknown_user":
        return jwt.encode({**_claims(user), "user_id": "987654321"}, settings.SIMPLE_JWT["SIGNING_KEY"],
                          algorithm="HS256")
    if case == "inactive_user":
        token = str(AccessToken.for_user(user))
        user.is_active = False
        user.save(update_fields=["is_active"])
        return token
    raise AssertionError(case)


CASES = ["wrong_signing_key", "alg_none_capitalised", "alg_hs512_with_the_real_key", "expired", "refresh_as_access",
         "blacklisted_refresh_as_access", "unknown_user", "inactive_user"]


@pytest.mark.parametrize("case", CASES)
def test_forged_or_revoked_tokens_are_401_everywhere(api_client, case):
    # given
    user = customer(balance="50.00")
    offer = OfferFactory()
    txn = Transaction.objects.create(kind="offer_activation", user=user, payload={})
    header = {"HTTP_AUTHORIZATION": f"Bearer {_token(case, user)}"}

    # when
    read = api_client.get("/api/v1/account/balance/", **header)
    write = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json", **header)
    status = api_client.get(f"/api/v1/activation/status/{txn.id}/", **header)

    # then
    for response in (read, write, status):
        assert response.status_code == 401, (case, response.content)
        assert set(response.json()) == {"code", "message", "details"}
    # the async status view's refusal reads as the others do (it once answered a Python repr)
    assert status.json()["message"] == read.json()["message"] and "ErrorDetail" not in status.json()["message"]
    assert Transaction.objects.count() == 1


def test_a_blacklisted_refresh_token_cannot_be_refreshed(api_client):
    # given
    refresh = RefreshToken.for_user(customer())
    refresh.blacklist()

    # when
    response = api_client.post("/api/v1/auth/refresh/", {"refresh": str(refresh)}, format="json")

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
