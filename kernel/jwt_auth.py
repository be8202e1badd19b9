"""JWT authentication that remembers, per process, each token's user for a few seconds and
each token's verification until the token expires.

Reading the user on every request was one PostgreSQL round trip in each accept, and decoding
and verifying the token (PyJWT, HMAC) about a tenth of the web's CPU in one (docs/PERFORMANCE.md,
"A cheap accept"). A user saved or deleted in this process is forgotten at once; in the other
processes within JWT_USER_CACHE_SECONDS (an account deactivated in the admin stops
authenticating everywhere within that window). A verified token stays verified: its
signature and claims cannot change, and its expiry is checked again on every use. 0 reads the
user and verifies the token every time."""
from __future__ import annotations

import copy
import functools
from time import monotonic, time

from django.conf import settings
from django.db import connection
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings

from kernel.prepared_sql import model_columns, prepared_instances

# Bounds on memory (a user or a token is ~1-2 KB): past one, that store starts again empty.
_MAX_REMEMBERED = 50_000
_MAX_VERIFIED = 10_000
_remembered: dict[str, tuple[float, object]] = {}
_verified: dict[bytes, tuple[float, object]] = {}  # raw token -> (its exp, the validated token)


def _bounded_put(store: dict, key, value, *, bound: int) -> None:
    if len(store) >= bound:
        store.clear()
    store[key] = value


class _PreparedUserLookup:
    """Stands in for the user model where simplejwt's `get_user` reads the user
    (`user_model.objects.get(<USER_ID_FIELD>=id)`, catching `user_model.DoesNotExist`): one
    prepared statement instead of a compiled queryset, whose compile was ~15 % of the web's
    CPU in an accept whose user was not remembered. simplejwt's checks (not found, inactive,
    password changed) stay its own."""

    def __init__(self, model):
        self.model, self.DoesNotExist, self.objects = model, model.DoesNotExist, self
        self._field = model._meta.get_field(api_settings.USER_ID_FIELD)
        self._sql = (f"SELECT {model_columns(model)} FROM {connection.ops.quote_name(model._meta.db_table)} "
                     f"WHERE {connection.ops.quote_name(self._field.column)} = %s")

    def get(self, **lookup):
        (value,) = lookup.values()
        try:
            value = self._field.get_prep_value(value)
        except (TypeError, ValueError) as exc:  # a claim no user can have
            raise self.DoesNotExist() from exc
        found = prepared_instances(self.model, self._sql, [value])
        if not found:
            raise self.DoesNotExist()
        return found[0]


class RememberingJWTAuthentication(JWTAuthentication):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _user_lookup(self.user_model)

    def get_validated_token(self, raw_token):
        if settings.JWT_USER_CACHE_SECONDS <= 0:
            return super().get_validated_token(raw_token)
        token = _token_verified(raw_token)
        if token is not None:
            return token
        token = super().get_validated_token(raw_token)  # refuses bad signatures, types and expired tokens
        expires = token.payload.get("exp")  # remembered without the LEEWAY: stricter, never looser
        if isinstance(expires, (int, float)):
            _bounded_put(_verified, raw_token, (float(expires), token), bound=_MAX_VERIFIED)
        return token

    def get_user(self, validated_token):
        if settings.JWT_USER_CACHE_SECONDS <= 0:
            return super().get_user(validated_token)
        key = _user_key(validated_token)
        user = _user_remembered(key)
        if user is None:
            user = super().get_user(validated_token)  # refuses unknown and inactive users
            _bounded_put(_remembered, key, (monotonic(), user), bound=_MAX_REMEMBERED)
        # each request gets its own instance: a view may change or cache things on it
        return copy.copy(user)

    def authenticate_remembered(self, request):
        """(user, token) when this process remembers both the request's token as verified and
        its user, as `authenticate` would return them, with no I/O (an async view calls it in
        the event loop); None when anything is missing, stale or wrong: `authenticate` then
        decides, and says what is wrong."""
        header = self.get_header(request)
        if settings.JWT_USER_CACHE_SECONDS <= 0 or header is None:
            return None
        try:
            raw_token = self.get_raw_token(header)
        except AuthenticationFailed:
            return None
        token = _token_verified(raw_token) if raw_token is not None else None
        user = _user_remembered(_user_key(token)) if token is not None else None
        return None if user is None else (copy.copy(user), token)


def _token_verified(raw_token: bytes):
    """The validated token this process verified, while it has not expired; else None."""
    entry = _verified.get(raw_token)
    return entry[1] if entry is not None and time() < entry[0] else None


def _user_key(validated_token) -> str:
    return str(validated_token.get(api_settings.USER_ID_CLAIM))


def _user_remembered(key: str):
    """The user this process read for `key` within JWT_USER_CACHE_SECONDS; else None."""
    entry = _remembered.get(key)
    return entry[1] if entry is not None and monotonic() - entry[0] < settings.JWT_USER_CACHE_SECONDS else None


@functools.cache
def _user_lookup(model) -> _PreparedUserLookup:
    return _PreparedUserLookup(model)


def user_forget(user_id) -> None:
    _remembered.pop(str(user_id), None)
