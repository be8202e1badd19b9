"""JWT authentication that remembers each token's user for a few seconds per process.

Reading the user on every request was one PostgreSQL round trip in each accept
(docs/PERFORMANCE.md, "A cheap accept"). A user saved or deleted in this process is forgotten
at once; in the other processes within JWT_USER_CACHE_SECONDS (an account deactivated in the
admin stops authenticating everywhere within that window). 0 reads the user every time."""
from __future__ import annotations

import copy
from time import monotonic

from django.conf import settings
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings

_MAX_REMEMBERED = 50_000  # a bound on memory: past it, everything is read again once
_remembered: dict[str, tuple[float, object]] = {}


class RememberingJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        seconds = settings.JWT_USER_CACHE_SECONDS
        if seconds <= 0:
            return super().get_user(validated_token)
        key = str(validated_token.get(api_settings.USER_ID_CLAIM))
        entry = _remembered.get(key)
        now = monotonic()
        if entry is None or now - entry[0] >= seconds:
            user = super().get_user(validated_token)  # refuses unknown and inactive users
            if len(_remembered) >= _MAX_REMEMBERED:
                _remembered.clear()
            entry = _remembered[key] = (now, user)
        # each request gets its own instance: a view may change or cache things on it
        return copy.copy(entry[1])


def user_forget(user_id) -> None:
    _remembered.pop(str(user_id), None)
