"""How a partner signs a request (and checks our callbacks), for the tests."""
import hashlib
import hmac
import json
import time

from partners.services import Credentials, partner_create, partner_customer_link

_names = iter(range(1, 10**9))


def partner(*, name: str | None = None, callback_url: str = "", throttle_rate: str = "",
            customers: tuple = ()) -> Credentials:
    """A partner; `customers` are linked to it (a partner activates only for its linked customers)."""
    credentials = partner_create(name=name or f"partner-{next(_names)}", callback_url=callback_url,
                                 throttle_rate=throttle_rate)
    for customer in customers:
        partner_customer_link(partner=credentials.partner, customer=customer)
    return credentials


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    canonical = f"{method}\n{path}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signed_headers(credentials: Credentials, method: str, path: str, body: bytes = b"",
                   timestamp: int | None = None) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Partner-Key": credentials.key_id, "X-Partner-Timestamp": timestamp,
            "X-Partner-Signature": sign(credentials.secret, method, path, timestamp, body),
            "Content-Type": "application/json"}


def body_of(data: dict) -> bytes:
    return json.dumps(data).encode()


ACTIVATE = "/api/v1/partner/activate/"


def validate_path(reference: str) -> str:
    return f"/api/v1/partner/validate/{reference}/"


def reverse_path(reference: str) -> str:
    return f"/api/v1/partner/reverse/{reference}/"


def post_signed(client, credentials: Credentials, data: dict | bytes, path: str = ACTIVATE,
                timestamp: int | None = None):
    """POST through DRF's APIClient with a valid signature over the exact bytes sent."""
    body = data if isinstance(data, bytes) else body_of(data)
    headers = signed_headers(credentials, "POST", path, body, timestamp)
    return client.generic("POST", path, data=body, content_type=headers.pop("Content-Type"), headers=headers)


def get_signed(client, credentials: Credentials, path: str, timestamp: int | None = None):
    headers = signed_headers(credentials, "GET", path, b"", timestamp)
    headers.pop("Content-Type")
    return client.get(path, headers=headers)
