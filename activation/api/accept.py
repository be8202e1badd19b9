"""What every API view that accepts a transaction shares: reading the Idempotency-Key
header, answering 202 with the status URL, and saying both in the schema."""
import functools
import re
from uuid import UUID

from django.urls import get_script_prefix, reverse
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from activation.services import Accepted
from kernel.api import ErrorSerializer, TransactionAcceptedSerializer
from kernel.fast_accept import fast_accept_view

IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
IDEMPOTENCY_KEY_HEADER = openapi.Parameter(
    "Idempotency-Key", openapi.IN_HEADER, type=openapi.TYPE_STRING, required=False, min_length=1, max_length=255,
    pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
    description="Sent again with the same body, the original 202 is replayed (`Idempotent-Replayed: true`).")
IDEMPOTENCY_REFUSALS = {
    409: openapi.Response("`idempotency_in_progress`: a request with this key is still being processed.",
                          ErrorSerializer),
    422: openapi.Response("`idempotency_key_reused`: this key was already used with another body.", ErrorSerializer),
}


ACCEPTED_HEADERS = {
    "Location": openapi.Schema(type=openapi.TYPE_STRING, description="The status URL (`status_url`)."),
    "Idempotent-Replayed": openapi.Schema(type=openapi.TYPE_STRING, enum=["true"],
                                          description="Present when this is the replay of an earlier 202."),
}


def accepting_schema(*, request_body, accepted=TransactionAcceptedSerializer, with_key: bool = True, **kwargs):
    """swagger_auto_schema for a view that accepts a transaction: the 202 body and headers, the
    idempotency refusals, and the Idempotency-Key header unless the body carries the key."""
    accepted_response_schema = openapi.Response("Accepted: a worker settles it; poll `status_url`.", accepted,
                                                headers=ACCEPTED_HEADERS)
    return swagger_auto_schema(request_body=request_body,
                               responses={202: accepted_response_schema, **IDEMPOTENCY_REFUSALS},
                               manual_parameters=[IDEMPOTENCY_KEY_HEADER] if with_key else None, **kwargs)


def idempotency_key_from(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise serializers.ValidationError({"Idempotency-Key": ["1 to 255 printable ASCII characters, no spaces."]})
    return key


def accepting_view(view_class, *, serializer_class, accept):
    """The URL's view for an accepting DRF view: the fast path (kernel/fast_accept.py) for the
    common request, the DRF view for every other. `accept(user, validated_data,
    idempotency_key, **url_kwargs) -> Accepted` is what the DRF view's `post` calls after
    validation, so both paths accept through one function."""
    return fast_accept_view(view_class, serializer_class=serializer_class, key_from=idempotency_key_from,
                            accept=lambda user, data, key, **kwargs: accepted_parts(accept(user, data, key, **kwargs)))


def accepted_response(accepted: Accepted, *, with_status_url: bool = True, **extra) -> Response:
    """The 202 of every accepting view. Partners follow their transactions by their own
    reference (`partner/validate/`), not the customer's status URL: `with_status_url=False`."""
    status_code, body, headers = accepted_parts(accepted, with_status_url=with_status_url, **extra)
    return Response(body, status=status_code, headers=headers)


def accepted_parts(accepted: Accepted, *, with_status_url: bool = True, **extra) -> tuple[int, dict, dict]:
    """(status, body, headers) of the 202: accepted_response's, and the fast path's
    (kernel/fast_accept.py)."""
    txn = accepted.transaction
    body = {"transaction_id": str(txn.id), "status": txn.status, **extra}
    headers = {}
    if with_status_url:
        body["status_url"] = headers["Location"] = status_url(txn.id)
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return status.HTTP_202_ACCEPTED, body, headers


_URL_PLACEHOLDER = str(UUID(int=0))


def status_url(transaction_id) -> str:
    """The transaction's status route, as reverse() names it (under the request's script
    prefix), without resolving the route again for every 202."""
    head, tail = _status_url_parts(get_script_prefix())
    return f"{head}{transaction_id}{tail}"


@functools.lru_cache(maxsize=16)
def _status_url_parts(script_prefix: str) -> tuple[str, str]:
    """The URL around the id; `script_prefix` is the cache key (reverse() reads the same one)."""
    head, _, tail = reverse("transaction-status", kwargs={"transaction_id": _URL_PLACEHOLDER}).partition(
        _URL_PLACEHOLDER)
    return head, tail
