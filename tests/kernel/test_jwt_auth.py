"""The JWT authentication remembers a token's user for JWT_USER_CACHE_SECONDS per process
(kernel/jwt_auth.py): no user read per request, and no access after a change it has seen."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tests.factories import customer

pytestmark = pytest.mark.django_db


def _balance(api_client, user):
    return api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")


def _user_reads(queries) -> int:
    return sum('FROM "accounts_user"' in q["sql"] for q in queries.captured_queries)


def test_the_second_request_does_not_read_the_user(api_client, settings):
    settings.JWT_USER_CACHE_SECONDS = 60
    user = customer(balance="5.00")
    assert _balance(api_client, user).status_code == 200

    # when
    with CaptureQueriesContext(connection) as queries:
        response = _balance(api_client, user)

    # then
    assert response.status_code == 200 and _user_reads(queries) == 0


def test_a_user_deactivated_in_the_process_is_refused_at_once(api_client, settings):
    settings.JWT_USER_CACHE_SECONDS = 60
    user = customer(balance="5.00")
    assert _balance(api_client, user).status_code == 200

    # when
    user.is_active = False
    user.save(update_fields=["is_active"])

    # then
    assert _balance(api_client, user).status_code == 401


def test_a_change_the_process_did_not_see_counts_once_the_window_is_over(api_client, settings):
    # given: remembered, then deactivated behind the process's back (another process, a bulk update)
    settings.JWT_USER_CACHE_SECONDS = 60
    user = customer(balance="5.00")
    assert _balance(api_client, user).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert _balance(api_client, user).status_code == 200  # within the window: the documented trade-off

    # when: the window is over
    settings.JWT_USER_CACHE_SECONDS = 0

    # then
    assert _balance(api_client, user).status_code == 401


def test_each_request_gets_its_own_user_instance(settings):
    from kernel.jwt_auth import RememberingJWTAuthentication

    settings.JWT_USER_CACHE_SECONDS = 60
    user = customer(balance="5.00")
    token = AccessToken.for_user(user)
    authentication = RememberingJWTAuthentication()

    first = authentication.get_user(token)
    first.first_name = "changed by a view"
    second = authentication.get_user(token)

    assert second.pk == user.pk and second is not first and second.first_name != "changed by a view"


def _decodes(monkeypatch) -> list:
    from rest_framework_simplejwt.backends import TokenBackend

    calls, decode = [], TokenBackend.decode

    def counting(self, token, verify=True):
        calls.append(token)
        return decode(self, token, verify)

    monkeypatch.setattr(TokenBackend, "decode", counting)
    return calls


def test_a_token_verified_once_is_not_decoded_again(api_client, settings, monkeypatch):
    # given
    settings.JWT_USER_CACHE_SECONDS = 60
    user = customer(balance="5.00")
    token = AccessToken.for_user(user)
    decodes = _decodes(monkeypatch)
    assert api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    # when
    response = api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}")

    # then
    assert response.status_code == 200 and len(decodes) == 1


def test_a_remembered_token_is_refused_once_it_expires(api_client, settings, monkeypatch):
    # given: verified and remembered
    settings.JWT_USER_CACHE_SECONDS = 60
    user = customer(balance="5.00")
    token = AccessToken.for_user(user)
    assert api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    # when: the clock passes its exp
    import kernel.jwt_auth
    from rest_framework_simplejwt import tokens
    from rest_framework_simplejwt.utils import datetime_from_epoch

    later = token["exp"] + 1
    monkeypatch.setattr(kernel.jwt_auth, "time", lambda: later)
    monkeypatch.setattr(tokens, "aware_utcnow", lambda: datetime_from_epoch(later))

    # then
    response = api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


def test_a_tampered_token_is_refused_though_its_original_is_remembered(api_client, settings):
    # given
    settings.JWT_USER_CACHE_SECONDS = 60
    user, other = customer(balance="5.00"), customer(balance="9.00")
    token = str(AccessToken.for_user(user))
    assert api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    header, _, signature = token.split(".")
    forged_claims = str(AccessToken.for_user(other)).split(".")[1]

    # when
    response = api_client.get("/api/v1/account/balance/",
                              HTTP_AUTHORIZATION=f"Bearer {header}.{forged_claims}.{signature}")

    # then
    assert response.status_code == 401


def test_the_user_read_loads_the_user_the_orm_would(settings):
    from kernel.jwt_auth import RememberingJWTAuthentication

    # given
    settings.JWT_USER_CACHE_SECONDS = 0
    user = customer(balance="5.00")

    # when
    read = RememberingJWTAuthentication().get_user(AccessToken.for_user(user))

    # then
    expected = User.objects.get(pk=user.pk)
    fields = [f.attname for f in User._meta.concrete_fields]
    assert {name: getattr(read, name) for name in fields} == {name: getattr(expected, name) for name in fields}
    assert read._state.adding is False


@pytest.mark.parametrize("claim", ["999999999", "not-a-number", None])
def test_a_token_naming_no_user_is_refused_as_user_not_found(api_client, settings, claim):
    # given: a validly signed token whose user id claim names no user
    settings.JWT_USER_CACHE_SECONDS = 0
    token = AccessToken.for_user(customer())
    token["user_id"] = claim

    # when
    response = api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}")

    # then
    assert response.status_code == 401 and response.json()["code"] in ("user_not_found", "authentication_failed")


def test_the_remembered_path_answers_only_for_a_remembered_token_and_user(api_client, settings):
    # given: a customer who has made one request (token verified, user remembered)
    from django.test import RequestFactory

    from kernel.jwt_auth import RememberingJWTAuthentication

    settings.JWT_USER_CACHE_SECONDS = 60
    user, stranger = customer(balance="5.00"), customer(balance="5.00")
    token, strangers = AccessToken.for_user(user), AccessToken.for_user(stranger)
    assert _balance_with(api_client, token).status_code == 200

    def remembered(authorization=None):
        headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
        return RememberingJWTAuthentication().authenticate_remembered(RequestFactory().get("/", **headers))

    # then: the remembered token gives its user, with no query
    with CaptureQueriesContext(connection) as queries:
        found = remembered(f"Bearer {token}")
    assert found is not None and found[0].pk == user.pk and len(queries) == 0
    # and anything else is left to the full path: no header, a malformed one, a token never
    # verified here, a forged one, a remembered user's token no longer remembered
    assert remembered() is None and remembered("Bearer") is None and remembered("Bearer a b") is None
    assert remembered(f"Bearer {strangers}") is None and remembered(f"Bearer {token}x") is None
    settings.JWT_USER_CACHE_SECONDS = 0
    assert remembered(f"Bearer {token}") is None


def test_the_remembered_path_refuses_a_token_past_its_expiry(api_client, settings):
    # given: a token verified and remembered, then past its exp
    import time as clock

    from django.test import RequestFactory

    from kernel import jwt_auth

    settings.JWT_USER_CACHE_SECONDS = 60
    token = AccessToken.for_user(customer(balance="5.00"))
    assert _balance_with(api_client, token).status_code == 200
    raw = str(token).encode()
    expires, validated = jwt_auth._verified[raw]
    jwt_auth._verified[raw] = (clock.time() - 1, validated)

    # when
    found = jwt_auth.RememberingJWTAuthentication().authenticate_remembered(
        RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))

    # then
    assert found is None


def _balance_with(api_client, token):
    return api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_remembered_user_is_read_again_once_the_window_is_over(api_client, settings, monkeypatch):
    # given: a user remembered, then deactivated behind the process's back
    from kernel import jwt_auth

    settings.JWT_USER_CACHE_SECONDS = 5
    user = customer(balance="5.00")
    assert _balance(api_client, user).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert _balance(api_client, user).status_code == 200  # within the window

    # when: the window's 5 s have gone by
    later = jwt_auth.monotonic() + 5.5
    monkeypatch.setattr(jwt_auth, "monotonic", lambda: later)

    # then: the user is read again, and refused
    assert _balance(api_client, user).status_code == 401
