"""Per-partner rate limit, read from the Partner row (PARTNER_DEFAULT_THROTTLE_RATE when
empty). Fails open when Redis is down, like every throttle here."""
from django.conf import settings
from rest_framework import throttling

from kernel.throttles import SlidingWindowsThrottle, Window
from partners.models import Partner


class _PartnerWindow(throttling.SimpleRateThrottle):
    """DRF's rate parsing and cache key for one partner."""

    scope = "partner"

    def __init__(self, partner: Partner):
        self.rate = partner.throttle_rate or settings.PARTNER_DEFAULT_THROTTLE_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class PartnerRateThrottle(SlidingWindowsThrottle):
    def windows(self, request, view) -> list[Window]:
        if not isinstance(request.auth, Partner):
            return []
        window = self.window_of(_PartnerWindow(request.auth), request, view)
        return [window] if window else []
