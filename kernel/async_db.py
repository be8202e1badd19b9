"""Database work from an async view. Served by the ASGI server, it runs on the event loop's
executor threads (a few per process, shared by every request) and gives its connection back
to the pool as soon as it is done, not at the request's end: a long-poll that reads
PostgreSQL holds no pooled connection, and no thread, while it waits
(tests/activation/test_e2e.py). Called from sync code (a WSGI server or Django's test client
running the view through async_to_sync), it runs on that caller's thread, whose connection
(and transaction) the request owns, as for a sync view."""
from __future__ import annotations

from typing import Any, Callable

from asgiref.sync import AsyncToSync, sync_to_async
from django.db import connections


async def database_call(fn: Callable[..., Any], /, *args, **kwargs) -> Any:
    if getattr(AsyncToSync.executors, "current", None) is not None:  # asgiref's own test for a sync caller
        return await sync_to_async(fn)(*args, **kwargs)
    return await sync_to_async(_connection_returned, thread_sensitive=False)(fn, *args, **kwargs)


def _connection_returned(fn: Callable[..., Any], *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    finally:
        connections.close_all()
