"""The accept routes' fast path: the common request (a JSON body, a bearer token, JSON
answered) is served without DRF's request and response machinery; every other request, and
every refusal that comes before the throttle, goes to the route's DRF view, which answers it
as it always has. What the fast path answers itself is answered as DRF would: the same
authentication, validation (the route's serializer), throttle windows (counted once, after
validation, so a request handed to DRF is counted by DRF alone), service call, error shape and
headers (tests/kernel/test_fast_accept.py compares the two paths' answers).

Why: DRF's dispatch (its Request, content negotiation, authenticator, permission and throttle
objects, the Response and its renderer) was ~15 % of the web's CPU per accept. Alternating
A/B on one stack (wrk, 32 connections, 2,000 customers, settlement running, 8 rounds each):
web CPU per accept 8.3 -> 7.0 ms (median), accepts 143 -> 167/s (docs/PERFORMANCE.md).

    fast_accept_view(ViewClass, serializer_class=..., accept=..., key_from=...)
        the route's view; `accept(user, validated_data, idempotency_key, **url_kwargs)` does
        what ViewClass.post does after validation and returns (status, body, headers)
        (activation.api.accept.accepting_view builds it for the accept routes)
"""
from __future__ import annotations

import functools
from typing import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions as drf

from kernel.api import json_body_parse
from kernel.errors import error_response
from kernel.fastjson import json_bytes
from kernel.jwt_auth import RememberingJWTAuthentication
from kernel.text import ascii_digits

_ACCEPTED_MEDIA = (None, "", "*/*", "application/json")


def fast_accept_view(view_class, *, serializer_class, accept: Callable, key_from: Callable):
    """The view for a DRF accept route (`view_class`, whose `post` it stands in for):
    `accept(user, validated_data, idempotency_key, **url_kwargs)` returns (status, body,
    headers); `key_from(request)` reads the Idempotency-Key as the DRF view does (a
    ValidationError hands the request to it). The DRF view stays the route's documentation (drf-yasg reads `cls`) and
    its answer to everything the fast path leaves to it."""
    if list(view_class.authentication_classes) != [RememberingJWTAuthentication]:
        raise ImproperlyConfigured(f"{view_class.__name__}: the fast path authenticates bearer tokens only")
    drf_view = view_class.as_view()
    allow = _allowed_methods(view_class)
    authentication = RememberingJWTAuthentication()

    def view(request, *args, **kwargs):
        response = None
        if request.method == "POST":
            try:
                response = _fast(request, args, kwargs, view_class, serializer_class, accept, key_from,
                                 authentication)
            except Exception as exc:  # as DRF's handler answers: a refusal, or a dependency down (503); a bug raises
                response = error_response(exc)
        if response is None:
            return drf_view(request, *args, **kwargs)
        response["Allow"] = allow
        return response

    return functools.update_wrapper(view, drf_view)  # its cls, view_class and csrf_exempt with it


def _allowed_methods(view_class) -> str:
    """DRF's `Allow` header for the view: its methods once Django's setup() has added HEAD."""
    view = view_class()
    view.setup(HttpRequest())
    return ", ".join(view.allowed_methods)


def _fast(request, args, kwargs, view_class, serializer_class, accept, key_from,
          authentication) -> HttpResponse | None:
    """None: DRF's view answers (anything unusual, and any refusal before the throttle)."""
    meta = request.META
    if (request.content_type != "application/json" or request.encoding not in (None, "utf-8", "UTF-8")
            or meta.get("HTTP_ACCEPT") not in _ACCEPTED_MEDIA):
        return None
    try:
        key = key_from(request)
    except drf.ValidationError:
        return None
    length = meta.get("CONTENT_LENGTH")
    if not length or not ascii_digits(length) or int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return None
    try:
        authenticated = authentication.authenticate(request)
    except drf.APIException:
        return None
    if authenticated is None:
        return None
    request.user, request.auth = authenticated
    view = view_class(format_kwarg=None)
    view.setup(request, *args, **kwargs)
    if not all(permission.has_permission(request, view) for permission in view.get_permissions()):
        return None
    try:
        data = json_body_parse(request.body)
    except drf.ParseError:
        return None
    if not isinstance(data, dict):
        return None
    serializer = serializer_class(data=data, context={"request": request})
    if not serializer.is_valid():
        return None
    view.check_throttles(request)  # DRF's own: Throttled, answered by error_response above
    status, body, headers = accept(request.user, serializer.validated_data, key, **kwargs)
    response = HttpResponse(json_bytes(body), status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response
