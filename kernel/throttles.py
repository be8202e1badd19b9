"""DRF throttles, counted atomically in Redis.

DRF's SimpleRateThrottle keeps each client's request history as a list in the cache and
reads then rewrites it (two round trips, and two concurrent requests can both read the
same history, so both pass and one write is lost). Here the same sliding-window rule runs
as one Lua call on sorted sets: exact under concurrency, and one round trip for all the
windows of a request (user and scope). Rates, scopes, cache keys and `Retry-After` are DRF's.

When Redis is unreachable (decided once, in `_windows_hit`):
* the login scopes (`LOCAL_FALLBACK_SCOPES`: the API's login and token refresh, the admin's
  login form per client and per username) are counted by the same rule in this process's
  memory (`LocalSlidingWindows`), so passwords cannot be guessed at will for the length of an
  outage. Per process: with N web processes a client gets up to N times the rate, and the
  counts start from zero when Redis returns (or the process restarts);
* every other scope fails open: the request is served unthrottled (and logged), because
  accepting a durable transaction matters more than rate accounting during a Redis outage,
  and per-process counts of those rates would refuse customers for no one's protection."""
import collections
import hashlib
import logging
import threading
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


Window = tuple[str, str, int, int]  # (scope, cache key, window seconds, limit)

# Counted in this process while Redis is unreachable; every other scope fails open then.
LOCAL_FALLBACK_SCOPES = frozenset({"login", "login-username"})


class LocalSlidingWindows:
    """The rule of `_SLIDING_WINDOWS` in this process's memory (thread-safe): each window is
    decided on its own; one under its limit counts the request, a full one answers the seconds
    until its oldest request leaves it. Holds at most `max_keys` windows, dropping the least
    recently used (the admin's username windows are the client's to multiply)."""

    def __init__(self, max_keys: int = 10_000):
        self.max_keys = max_keys
        self._windows: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def hit(self, windows: list[tuple[str, int, int]]) -> list[tuple[bool, float]]:
        now = time.time()
        out = []
        with self._lock:
            for key, window, limit in windows:
                hits = self._windows.setdefault(key, collections.deque())
                self._windows.move_to_end(key)
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) < limit:
                    hits.append(now)
                    out.append((True, 0.0))
                else:
                    out.append((False, hits[0] + window - now))
            while len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
        return out


_local_windows = LocalSlidingWindows()


def _windows_hit(windows: list[Window]) -> list[tuple[bool, float]]:
    """A request against its windows: in Redis, or while Redis is unreachable the login
    scopes' windows in this process and every other window allowed (the module says why)."""
    try:
        return _sliding_windows_hit([(key, duration, limit) for _, key, duration, limit in windows])
    except RedisError as exc:
        logger.warning("throttle store unavailable, login scopes counted in this process, others open: %r", exc)
    local = iter(_local_windows.hit([(key, duration, limit) for scope, key, duration, limit in windows
                                     if scope in LOCAL_FALLBACK_SCOPES]))
    return [next(local) if scope in LOCAL_FALLBACK_SCOPES else (True, 0.0) for scope, *_ in windows]


# Sent once per refused window (kwargs: scope); monitoring counts them. The kernel imports
# no app, so whoever wants to know connects to it.
request_throttled = Signal()


class SlidingWindowsThrottle(throttling.BaseThrottle):
    """A throttle that names the windows a request falls in (`windows`) and counts it in all
    of them with one Redis call. A request is refused if any window is full; `Retry-After` is
    the longest wait; each refusal is observed per scope. Redis down: see the module."""

    def windows(self, request, view) -> list[Window]:
        raise NotImplementedError

    def allow_request(self, request, view):
        windows = self.windows(request, view)
        hits = _windows_hit(windows)
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
    submitted username's. None if allowed, else the seconds to wait (at least 1). While Redis
    is down both windows are counted in this process (LOCAL_FALLBACK_SCOPES)."""
    throttle = throttling.ScopedRateThrottle()
    throttle.scope = "login"
    throttle.rate = throttle.get_rate()
    limit, duration = throttle.parse_rate(throttle.rate)
    client_key = throttle.cache_format % {"scope": "login", "ident": throttle.get_ident(request)}
    user_key = throttle.cache_format % {
        "scope": "login-username", "ident": hashlib.sha256(username.strip().casefold().encode()).hexdigest()}
    hits = _windows_hit([("login", client_key, duration, limit), ("login-username", user_key, duration, limit)])
    waits = [wait for allowed, wait in hits if not allowed]
    if not waits:
        return None
    request_throttled.send(sender=login_attempt_wait, scope="login")
    return max(max(waits), 1.0)
