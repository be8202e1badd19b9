"""HMAC-SHA256 request signing, the same in both directions (partner -> us, callbacks -> partner).

    canonical = METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + hex(sha256(BODY))
    signature = hex(hmac_sha256(secret, canonical))

PATH is the path as requested, with the query string if there is one ("/api/v1/x/?a=1");
TIMESTAMP is Unix seconds, the value of the X-Partner-Timestamp header.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

HEADER_KEY = "X-Partner-Key"
HEADER_TIMESTAMP = "X-Partner-Timestamp"
HEADER_SIGNATURE = "X-Partner-Signature"
HEADER_EVENT_ID = "X-Partner-Event-Id"


def canonical_string(*, method: str, path: str, timestamp: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, str(timestamp), hashlib.sha256(body).hexdigest()])


def signature_compute(*, secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    message = canonical_string(method=method, path=path, timestamp=timestamp, body=body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_matches(*, expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _fernet() -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; derive them so any configured string works.
    digest = hashlib.sha256(f"partners-secret:{settings.PARTNER_SECRET_ENCRYPTION_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # the encryption key changed: credentials must be rotated
        raise ValueError("partner secret cannot be decrypted with the configured key") from exc


def credentials_generate() -> tuple[str, str]:
    """A new (key id, secret) pair."""
    return f"pk_{secrets.token_hex(8)}", secrets.token_urlsafe(32)
