"""Signed partner requests: X-Partner-Key, X-Partner-Timestamp, X-Partner-Signature (see
partners.signing for the canonical string). Every refusal is a 401 in the error shape,
except a correctly signed request from an inactive partner, which is a 403."""
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions

from kernel.errors import NotPermitted, PayloadTooLarge
from kernel.text import ascii_digits
from partners.services import partner_signing_credentials
from partners.signing import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, signature_compute, signature_matches


class SignatureInvalid(exceptions.AuthenticationFailed):
    default_detail = "The request signature is missing, invalid, expired or was already used."
    default_code = "invalid_signature"


class PartnerInactive(NotPermitted):
    code = "partner_inactive"
    message = "This partner is not active."


class PartnerSignatureAuthentication(authentication.BaseAuthentication):
    # The schema's security definitions and requirement (kernel.openapi): all three headers together.
    openapi_security_definitions = {
        "PartnerKey": {"type": "apiKey", "in": "header", "name": HEADER_KEY,
                       "description": "The partner's key id (`pk_…`)."},
        "PartnerTimestamp": {"type": "apiKey", "in": "header", "name": HEADER_TIMESTAMP,
                             "description": "Unix seconds; refused outside PARTNER_SIGNATURE_MAX_SKEW_SECONDS."},
        "PartnerSignature": {
            "type": "apiKey", "in": "header", "name": HEADER_SIGNATURE,
            "description": "Lowercase hex HMAC-SHA256, keyed with the partner's secret, of "
                           "`METHOD + \"\\n\" + PATH + \"\\n\" + TIMESTAMP + \"\\n\" + hex(sha256(BODY))`; PATH as "
                           "requested, with the query string (`/api/v1/partner/validate/till-1/`). A signature "
                           "is accepted once."},
    }
    openapi_security = {name: [] for name in openapi_security_definitions}

    def authenticate(self, request):
        key_id = request.headers.get(HEADER_KEY, "")
        timestamp = request.headers.get(HEADER_TIMESTAMP, "")
        given = request.headers.get(HEADER_SIGNATURE, "")
        if not (key_id and timestamp and given):
            raise exceptions.NotAuthenticated(
                f"Signed request required: {HEADER_KEY}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE} headers.")
        skew = settings.PARTNER_SIGNATURE_MAX_SKEW_SECONDS
        if not ascii_digits(timestamp) or abs(time.time() - int(timestamp)) > skew:
            raise SignatureInvalid("The request timestamp is outside the allowed window.", code="signature_expired")
        # The current key, or the one a rotation replaced while its overlap window lasts.
        signing = partner_signing_credentials(key_id=key_id[:40])
        if signing is None:
            raise SignatureInvalid()
        partner, secret = signing
        body = self._body(request)
        expected = signature_compute(secret=secret, method=request.method,
                                     path=request.get_full_path(), timestamp=timestamp, body=body)
        if not signature_matches(expected=expected, given=given):
            raise SignatureInvalid()
        # SET NX EX: a signature is good once. Kept for twice the skew, longer than it can be valid.
        replay_key = f"partner-signature:{partner.id}:{expected}"
        if not cache.add(replay_key, 1, timeout=2 * settings.PARTNER_SIGNATURE_MAX_SKEW_SECONDS):
            raise SignatureInvalid("This signature was already used.", code="signature_replayed")
        if not partner.is_active:
            raise PartnerInactive()
        return partner, partner

    def authenticate_header(self, request) -> str:
        # A value here makes DRF answer 401 (not 403) to an unauthenticated request.
        return 'HMAC-SHA256 realm="partners"'

    @staticmethod
    def _body(request) -> bytes:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = request.META.get("CONTENT_LENGTH")
        if length and ascii_digits(str(length)) and int(length) > limit:
            raise PayloadTooLarge()
        body = request._request.body
        if len(body) > limit:
            raise PayloadTooLarge()
        return body
