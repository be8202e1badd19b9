"""DRF throttles backed by the Redis cache. They fail open: when Redis is unreachable a
request is served unthrottled (and logged) rather than refused, because accepting a
durable transaction matters more than rate accounting during a Redis outage."""
import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)


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


class AnonRateThrottle(FailOpenThrottleMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenThrottleMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpenThrottleMixin, throttling.ScopedRateThrottle):
    pass
