"""DRF throttles, counted atomically in Redis. They fail open: when Redis is unreachable a
request is served unthrottled (and logged) rather than refused, because accepting a
durable transaction matters more than rate accounting during a Redis outage.

DRF's SimpleRateThrottle keeps each client's request history as a list in the cache and
reads then rewrites it (two round trips, and two concurrent requests can both read the
same history, so both pass and one write is lost). Here the same sliding-window rule runs
as one Lua call on sorted sets: exact under concurrency, and one round trip for all the
windows of a request (user and scope). Rates, scopes, cache keys and `Retry-After` are DRF's."""
import hashlib
import logging
import time
import uuid

from django.dispatch import Signal
from redis.exceptions import RedisError
from rest_framework import throttling

from kernel.redis_store import RedisScript, redis_key

logger = logging.getLogger(__name__)

KEY_PREFIX = redis_key("throttle:")

# KEYS: one window per key. ARGV: now (seconds), a unique member, then (window seconds,
# limit) per key. Each window is decided on its own, as DRF's throttles are one after the
# other: a window under its limit counts the request, a full one does not. Returns, per
# key, allowed 0/1 and the seconds until the oldest request in that window leaves it.
_SLIDING_WINDOWS = RedisScript("""
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local window, limit = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now, ARGV[2])
    redis.call('EXPIRE', key, math.ceil(window))
    out[#out + 1] = 1
    out[#out + 1] = '0'
  else
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    out[#out + 1] = 0
    out[#out + 1] = tostring(tonumber(oldest[2]) + window - now)
  end
end
return out
""")


def _sliding_windows_hit(windows: list[tuple[str, int, int]]) -> list[tuple[bool, float]]:
    """One request against several (key, window seconds, limit) windows, in one atomic call."""
    if not windows:
        return []
    args: list = [time.time(), uuid.uuid4().hex]
    for _, window, limit in windows:
        args += [window, limit]
    flat = _SLIDING_WINDOWS(keys=[KEY_PREFIX + key for key, _, _ in windows], args=args)
    return [(bool(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]


# Sent once per refused window (kwargs: scope); monitoring counts them. The kernel imports
# no app, so whoever wants to know connects to it.
request_throttled = Signal()


Window = tuple[str, str, int, int]  # (scope, cache key, window seconds, limit)


class SlidingWindowsThrottle(throttling.BaseThrottle):
    """A throttle that names the windows a request falls in (`windows`) and counts it in all
    of them with one Redis call. A request is refused if any window is full; `Retry-After` is
    the longest wait; each refusal is observed per scope. Fails open when Redis is down."""

    def windows(self, request, view) -> list[Window]:
        raise NotImplementedError

    def allow_request(self, request, view):
        windows = self.windows(request, view)
        try:
            hits = _sliding_windows_hit([(key, duration, limit) for _, key, duration, limit in windows])
        except RedisError as exc:
            logger.warning("throttle store unavailable, failing open: %r", exc)
            return True
        refused = [(scope, wait) for (scope, *_), (allowed, wait) in zip(windows, hits) if not allowed]
        for scope, _ in refused:
            request_throttled.send(sender=type(self), scope=scope)
        self._wait = max((wait for _, wait in refused), default=0.0)
        return not refused

    def wait(self):
        return max(self._wait, 1.0)

    @staticmethod
    def window_of(throttle: throttling.SimpleRateThrottle, request, view) -> Window | None:
        """A DRF throttle's window for this request: its scope, key, duration and limit."""
        if throttle.rate is None:
            return None
        key = throttle.get_cache_key(request, view)
        return None if key is None else (throttle.scope, key, throttle.duration, throttle.num_requests)


class RequestRateThrottle(SlidingWindowsThrottle):
    """The default throttles of every API view: DRF's anon, user and scoped throttles (their
    rates, `DEFAULT_THROTTLE_RATES` scopes, cache keys and `Retry-After`), every window that
    applies to the request counted by one Redis call instead of one call each."""

    def windows(self, request, view) -> list[Window]:
        return [w for w in (self.window_of(throttling.AnonRateThrottle(), request, view),
                            self.window_of(throttling.UserRateThrottle(), request, view),
                            self._scoped_window(request, view)) if w is not None]

    def _scoped_window(self, request, view) -> Window | None:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return None
        throttle = throttling.ScopedRateThrottle()
        throttle.scope = scope
        throttle.rate = throttle.get_rate()
        throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
        return self.window_of(throttle, request, view)


def login_attempt_wait(request, *, username: str) -> float | None:
    """One login attempt made outside DRF (the admin's login form), counted with the API's
    login rate (`DEFAULT_THROTTLE_RATES["login"]`) in two windows: the client's, the same
    window as the API's login endpoint (DRF's scoped key and client ident), and the
    submitted username's. None if allowed, else the seconds to wait (at least 1). Fails open
    when Redis is down, as every throttle here does."""
    throttle = throttling.ScopedRateThrottle()
    throttle.scope = "login"
    throttle.rate = throttle.get_rate()
    limit, duration = throttle.parse_rate(throttle.rate)
    client_key = throttle.cache_format % {"scope": "login", "ident": throttle.get_ident(request)}
    user_key = throttle.cache_format % {
        "scope": "login-username", "ident": hashlib.sha256(username.strip().casefold().encode()).hexdigest()}
    try:
        hits = _sliding_windows_hit([(client_key, duration, limit), (user_key, duration, limit)])
    except RedisError as exc:
        logger.warning("throttle store unavailable, failing open: %r", exc)
        return None
    waits = [wait for allowed, wait in hits if not allowed]
    if not waits:
        return None
    request_throttled.send(sender=login_attempt_wait, scope="login")
    return max(max(waits), 1.0)
