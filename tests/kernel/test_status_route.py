"""The status route's own ASGI handler (kernel/status_route.py): the headers and errors every
API response has, from a middleware chain in which no middleware hops to a thread."""
import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from django.utils.module_loading import import_string
from rest_framework_simplejwt.tokens import AccessToken

from activation.selectors import transaction_status_payload
from activation.status import statuses_publish
from kernel.middleware import SyncAndAsyncMiddleware
from kernel.status_route import STATUS_ROUTE_MIDDLEWARE, HooksInEventLoop, StatusRouteHandler
from tests.activation.test_settlement import pending_activation
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = "https://shop.example"


def _get(path: str, headers: dict) -> tuple[int, dict, dict]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    sent, body_read = [], False

    async def receive():
        nonlocal body_read
        if not body_read:
            body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Future()  # the client stays connected

    async def send(message):
        sent.append(message)

    async_to_sync(StatusRouteHandler())(scope, receive, send)
    start = sent[0]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], {name.decode().lower(): value.decode() for name, value in start["headers"]}, json.loads(body)


def test_a_status_poll_carries_the_apis_headers(settings):
    # given: a customer's transaction whose status is in Redis, and a front end allowed by CORS
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    user = customer(balance="5.00")
    txn = pending_activation(user, OfferFactory())
    statuses_publish([transaction_status_payload(txn)])

    # when
    status, headers, body = _get(f"/api/v1/activation/status/{txn.id}/", {
        "Authorization": f"Bearer {AccessToken.for_user(user)}", "Origin": ORIGIN, "X-Request-ID": "poll-1"})

    # then: the status, and the request id, security and CORS headers of any API response
    assert (status, body["transaction_id"], body["status"]) == (200, str(txn.id), "PENDING")
    assert headers["x-request-id"] == "poll-1"
    assert (headers["x-content-type-options"], headers["x-frame-options"], headers["referrer-policy"]) == (
        "nosniff", "DENY", "same-origin")
    assert headers["access-control-allow-origin"] == ORIGIN


def test_a_poll_without_a_token_gets_the_apis_401():
    # given
    txn = pending_activation(customer(balance="5.00"), OfferFactory())

    # when
    status, headers, body = _get(f"/api/v1/activation/status/{txn.id}", {})

    # then: the API's error shape (the path without its slash routed as the API routes it)
    assert status == 401 and set(body) == {"code", "message", "details"} and "www-authenticate" in headers


def test_no_middleware_of_the_route_hops_to_a_thread():
    # Django runs a MiddlewareMixin's hooks on a thread of the request under ASGI; the
    # route's own middleware serves async requests itself, the others run their hooks in the loop.
    for path in STATUS_ROUTE_MIDDLEWARE:
        middleware = import_string(path)
        in_loop = issubclass(middleware, (SyncAndAsyncMiddleware, HooksInEventLoop))
        natively_async = getattr(middleware, "async_capable", False) and "__acall__" in vars(middleware)
        assert in_loop or natively_async, path
