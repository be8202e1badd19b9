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

from kernel.fastjson import json_bytes
from kernel.redis_store import RedisScript, redis_key, redis_store

logger = logging.getLogger(__name__)

_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = weakref.WeakKeyDictionary()


STATUS_KEY_PREFIX = redis_key("txn:")
STATUS_CHANNEL_PREFIX = redis_key("txn-done:")


def status_key(transaction_id) -> str:
    return f"{STATUS_KEY_PREFIX}{transaction_id}"


def status_channel(transaction_id) -> str:
    return f"{STATUS_CHANNEL_PREFIX}{transaction_id}"


def redis_client_async() -> aioredis.Redis:
    """One client per event loop (uvicorn runs one loop per worker process)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.CACHE_REDIS_URL, socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
                                         retry=None)
        _async_clients[loop] = client
    return client


# SET each status with its TTL and PUBLISH the terminal ones, for a whole batch in one
# command: ARGV = ttl, flag ttl (ms), then (transaction id, terminal 0/1, body) per status.
# With KEYS[1] it also sets that flag (SET NX PX) and returns 1 if this call set it. (The
# status keys are built in the script, so it needs a single Redis, not a cluster: that is
# what we run.)
_PUBLISH_SCRIPT = RedisScript(f"""
local ttl = tonumber(ARGV[1])
for i = 3, #ARGV, 3 do
  redis.call('SET', '{STATUS_KEY_PREFIX}' .. ARGV[i], ARGV[i + 2], 'EX', ttl)
  if ARGV[i + 1] == '1' then
    redis.call('PUBLISH', '{STATUS_CHANNEL_PREFIX}' .. ARGV[i], ARGV[i + 2])
  end
end
if KEYS[1] and redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
""")


def statuses_publish(payloads: Iterable[dict]) -> bool:
    """Stores each payload and announces terminal ones (one Redis command for the lot).
    Never raises: a lost status only makes readers fall back to PostgreSQL."""
    return _statuses_script(payloads, flag_key=None, flag_ttl_ms=0) is not None


def statuses_publish_and_flag_set(payloads: Iterable[dict], *, flag_key: str, flag_ttl_ms: int) -> bool:
    """statuses_publish, and `SET flag_key 1 NX PX flag_ttl_ms` in the same command (one
    round trip on the accept path). True if this call set the flag, or if Redis could not
    say (the caller then acts as if it had: see activation.services.dispatch)."""
    return _statuses_script(payloads, flag_key=flag_key, flag_ttl_ms=flag_ttl_ms) != 0


def _statuses_script(payloads: Iterable[dict], *, flag_key: str | None, flag_ttl_ms: int) -> int | None:
    """The script's answer (1: the flag was set), or None when Redis is unavailable."""
    args: list = [settings.TRANSACTION_STATUS_TTL_SECONDS, flag_ttl_ms]
    for payload in payloads:
        args += [payload["transaction_id"], "0" if payload["status"] in ("PENDING", "PROCESSING") else "1",
                 json_bytes(payload)]
    if len(args) == 2 and flag_key is None:
        return 0
    try:
        return int(_PUBLISH_SCRIPT(keys=[flag_key] if flag_key else [], args=args))
    except redis.RedisError as exc:
        logger.warning("status store unavailable, %d status(es) not published: %r", (len(args) - 2) // 3, exc)
        return None


# The outbox drain's repair: SET and PUBLISH each status only where the store holds none or
# an earlier one in the lifecycle (the settling process died before publishing, or Redis was
# down then), never over a later one (a repair arriving after a reversal's status). ARGV =
# ttl, then (transaction id, lifecycle rank, body) per status. Returns how many it repaired.
_LIFECYCLE_RANK = {"PENDING": 0, "PROCESSING": 0, "SUCCEEDED": 1, "FAILED": 1, "REVERSED": 2}
_REPAIR_SCRIPT = RedisScript(f"""
local ranks = {{PENDING = 0, PROCESSING = 0, SUCCEEDED = 1, FAILED = 1, REVERSED = 2}}
local ttl, repaired = tonumber(ARGV[1]), 0
for i = 2, #ARGV, 3 do
  local key = '{STATUS_KEY_PREFIX}' .. ARGV[i]
  local current = redis.call('GET', key)
  if not current or (ranks[cjson.decode(current)['status']] or 0) < tonumber(ARGV[i + 1]) then
    redis.call('SET', key, ARGV[i + 2], 'EX', ttl)
    redis.call('PUBLISH', '{STATUS_CHANNEL_PREFIX}' .. ARGV[i], ARGV[i + 2])
    repaired = repaired + 1
  end
end
return repaired
""")


def statuses_repair(payloads: Iterable[dict]) -> int | None:
    """Publishes the statuses the store lacks or holds an earlier one of (_REPAIR_SCRIPT);
    None when Redis is unavailable (readers then fall back to PostgreSQL)."""
    args: list = [settings.TRANSACTION_STATUS_TTL_SECONDS]
    for payload in payloads:
        args += [payload["transaction_id"], _LIFECYCLE_RANK[payload["status"]], json_bytes(payload)]
    if len(args) == 1:
        return 0
    try:
        return int(_REPAIR_SCRIPT(args=args))
    except redis.RedisError as exc:
        logger.warning("status store unavailable, statuses not repaired: %r", exc)
        return None


def status_read(transaction_id) -> dict | None:
    try:
        raw = redis_store().get(status_key(transaction_id))
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


async def status_read_async(transaction_id) -> dict | None:
    try:
        raw = await redis_client_async().get(status_key(transaction_id))
    except (redis.RedisError, OSError):
        return None
    return json.loads(raw) if raw else None
