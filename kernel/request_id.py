"""The request id: one value that ties a request to everything it causes (its log lines, the
transaction it creates, that transaction's settlement, notifications and partner callbacks).

It is taken from the client's `X-Request-ID` when that is a safe token, else generated, and
returned as `X-Request-ID` on every response that passes the middleware. It is held in a
contextvar: set in the request's own context, it is seen by sync and async code alike
(asgiref copies the context into the threads it runs sync code in), under ASGI or WSGI.

Workers have no request: the worker sets the contextvars of the task it runs
(`task_context`), and services that handle a transaction log its stored request id
explicitly (`extra={"request_id": ...}`)."""
from __future__ import annotations

import logging
import re
import uuid
from contextlib import contextmanager
from time import perf_counter
from contextvars import ContextVar
from typing import Iterator

from kernel.middleware import SyncAndAsyncMiddleware


HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
MAX_LENGTH = 64
# A client's id is written into log lines, database rows and partners' request headers, so
# only a short token survives: no spaces, quotes, control characters or header separators.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")

# The access log: one line per request answered by Django, with its request id (the server's
# own access line cannot carry it). ACCESS_LOG=0 sets this logger to WARNING.
access_logger = logging.getLogger("access")

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
task_name_var: ContextVar[str] = ContextVar("task_name", default="")
task_id_var: ContextVar[str] = ContextVar("task_id", default="")


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_accept(value: str | None) -> str:
    """The client's id when it is a safe token of at most MAX_LENGTH characters, else a new one."""
    if value and len(value) <= MAX_LENGTH and _SAFE.fullmatch(value):
        return value
    return request_id_new()


def request_id_current() -> str:
    """The id of the request (or of the transaction a task handles) being served; "" outside one."""
    return request_id_var.get()


@contextmanager
def request_id_bound(request_id: str) -> Iterator[str]:
    token = request_id_var.set(request_id)
    try:
        yield request_id
    finally:
        request_id_var.reset(token)


class RequestIdMiddleware(SyncAndAsyncMiddleware):
    """First in MIDDLEWARE, so every response leaves through it: errors, 404s, throttled
    requests and 503s written by inner middleware or the exception handler."""

    def handle(self, request):
        started = perf_counter()
        request_id = request.request_id = request_id_accept(request.META.get(_META_KEY))
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            response.headers[HEADER] = request_id
            _access_log(request, response, started)
        finally:
            request_id_var.reset(token)
        return response

    async def ahandle(self, request):
        started = perf_counter()
        request_id = request.request_id = request_id_accept(request.META.get(_META_KEY))
        token = request_id_var.set(request_id)
        try:
            response = await self.get_response(request)
            response.headers[HEADER] = request_id
            _access_log(request, response, started)
        finally:
            request_id_var.reset(token)
        return response


def _access_log(request, response, started: float) -> None:
    if access_logger.isEnabledFor(logging.INFO):
        access_logger.info("%s %s %s", request.method, request.path, response.status_code, extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round((perf_counter() - started) * 1000, 2), "client": request.META.get("REMOTE_ADDR")})
