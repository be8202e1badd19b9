"""Per-partner rate limit, read from the Partner row (PARTNER_DEFAULT_THROTTLE_RATE when
empty). Fails open when Redis is down, like every throttle here."""
from django.conf import settings

from config.throttles import AtomicSimpleRateThrottle, FailOpenThrottleMixin
from partners.models import Partner


class PartnerRateThrottle(FailOpenThrottleMixin, AtomicSimpleRateThrottle):
    scope = "partner"

    def get_rate(self):
        return settings.PARTNER_DEFAULT_THROTTLE_RATE

    def allow_request(self, request, view):
        partner = request.auth
        if isinstance(partner, Partner) and partner.throttle_rate:
            self.rate = partner.throttle_rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, Partner):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
