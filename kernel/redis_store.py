"""The one synchronous client of the Redis store (db 1: cache, statuses, throttles, flags).
No retries with backoff: when Redis is down, callers fail fast and fall back."""
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
