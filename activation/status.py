"""The Redis status store: a cheap read path for polling clients and a pub/sub channel for
long-polls. PostgreSQL stays the source of truth; any Redis failure falls back to it."""
from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Iterable

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

_sync_client: redis.Redis | None = None
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = weakref.WeakKeyDictionary()


def status_key(transaction_id) -> str:
    return f"offers:txn:{transaction_id}"


def status_channel(transaction_id) -> str:
    return f"offers:txn-done:{transaction_id}"


def redis_client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(
            settings.CACHE_REDIS_URL, socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT, health_check_interval=30,
            retry=settings.REDIS_NO_RETRY)
    return _sync_client


def redis_client_async() -> aioredis.Redis:
    """One client per event loop (uvicorn runs one loop per worker process)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.CACHE_REDIS_URL, socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
                                         retry=None)
        _async_clients[loop] = client
    return client


def statuses_publish(payloads: Iterable[dict]) -> bool:
    """Stores each payload and announces terminal ones. Never raises: a lost status only
    makes readers fall back to PostgreSQL."""
    payloads = list(payloads)
    if not payloads:
        return True
    try:
        pipe = redis_client().pipeline(transaction=False)
        for payload in payloads:
            body = json.dumps(payload)
            pipe.set(status_key(payload["transaction_id"]), body, ex=settings.TRANSACTION_STATUS_TTL_SECONDS)
            if payload["status"] not in ("PENDING", "PROCESSING"):
                pipe.publish(status_channel(payload["transaction_id"]), body)
        pipe.execute()
        return True
    except redis.RedisError as exc:
        logger.warning("status store unavailable, %d status(es) not published: %r", len(payloads), exc)
        return False


def status_read(transaction_id) -> dict | None:
    try:
        raw = redis_client().get(status_key(transaction_id))
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


async def status_read_async(transaction_id) -> dict | None:
    try:
        raw = await redis_client_async().get(status_key(transaction_id))
    except (redis.RedisError, OSError):
        return None
    return json.loads(raw) if raw else None
