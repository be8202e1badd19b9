"""DRF throttles, counted atomically in Redis. They fail open: when Redis is unreachable a
request is served unthrottled (and logged) rather than refused, because accepting a
durable transaction matters more than rate accounting during a Redis outage.

DRF's SimpleRateThrottle keeps each client's request history as a list in the cache and
reads then rewrites it (two round trips, and two concurrent requests can both read the
same history, so both pass and one write is lost). Here the same sliding-window rule runs
as one Lua call on a sorted set: one round trip, and exact under concurrency. Rates,
scopes, cache keys and `Retry-After` are DRF's."""
import logging
import time
import uuid

from redis.exceptions import RedisError
from rest_framework import throttling

from config.redis_store import redis_store

logger = logging.getLogger(__name__)

KEY_PREFIX = "offers:throttle:"

# KEYS[1]: the client's window. ARGV: now (seconds), window (seconds), limit, a unique member.
# Returns {allowed 0/1, seconds until the oldest request in the window leaves it}.
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window))
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""
_script = None


def _sliding_window_hit(key: str, *, window: int, limit: int) -> tuple[bool, float]:
    global _script
    if _script is None:
        _script = redis_store().register_script(_SLIDING_WINDOW)
    allowed, wait = _script(keys=[KEY_PREFIX + key], args=[time.time(), window, limit, uuid.uuid4().hex])
    return bool(allowed), float(wait)


class AtomicSimpleRateThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's rule, counted by one atomic Redis call. Listed after a DRF
    throttle class in the bases, it takes SimpleRateThrottle's place in the MRO, so
    ScopedRateThrottle's scope handling still runs first."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        allowed, self._wait = _sliding_window_hit(self.key, window=self.duration, limit=self.num_requests)
        return allowed

    def wait(self):
        return max(getattr(self, "_wait", self.duration), 1.0)


class FailOpenThrottleMixin:
    def allow_request(self, request, view):
        try:
            allowed = super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("throttle store unavailable, failing open: %r", exc)
            return True
        if not allowed:
            throttled_request_observed(scope=getattr(self, "scope", None) or "unknown")
        return allowed


def throttled_request_observed(*, scope: str) -> None:
    """Hook for metrics; `monitoring` replaces it from its AppConfig (config wires it)."""


class AnonRateThrottle(FailOpenThrottleMixin, throttling.AnonRateThrottle, AtomicSimpleRateThrottle):
    pass


class UserRateThrottle(FailOpenThrottleMixin, throttling.UserRateThrottle, AtomicSimpleRateThrottle):
    pass


class ScopedRateThrottle(FailOpenThrottleMixin, throttling.ScopedRateThrottle, AtomicSimpleRateThrottle):
    pass
