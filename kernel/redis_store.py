"""The one synchronous client of the Redis store (db 1: cache, statuses, throttles, flags),
the key namespace every app's keys live under, and Lua scripts run by their digest.
No retries with backoff: when Redis is down, callers fail fast and fall back."""
import hashlib
from typing import Any, Sequence

import redis
from django.conf import settings

_client: redis.Redis | None = None


def redis_store() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.CACHE_REDIS_URL, socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT, health_check_interval=30,
            retry=settings.REDIS_NO_RETRY)
    return _client


def redis_key(name: str) -> str:
    """`name` under the deployment's namespace (settings.REDIS_KEY_PREFIX)."""
    return f"{settings.REDIS_KEY_PREFIX}{name}"


class RedisScript:
    """A Lua script sent once per Redis server and then run by its digest (EVALSHA), loaded
    again when the server answers NOSCRIPT (a restarted or flushed Redis). Module-level
    constants; one round trip per call in the steady state."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, *, keys: Sequence[str] = (), args: Sequence[Any] = (), client: redis.Redis | None = None) -> Any:
        """Runs the script on `client` (the store by default). Redis errors propagate."""
        client = client if client is not None else redis_store()
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)
