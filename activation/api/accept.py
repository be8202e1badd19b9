"""What every API view that accepts a transaction shares: reading the Idempotency-Key
header, answering 202 with the status URL, and saying both in the schema."""
import re

from django.urls import reverse
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from activation.services import Accepted
from kernel.api import ErrorSerializer, TransactionAcceptedSerializer

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


def accepted_response(accepted: Accepted, *, with_status_url: bool = True, **extra) -> Response:
    """The 202 of every accepting view. Partners follow their transactions by their own
    reference (`partner/validate/`), not the customer's status URL: `with_status_url=False`."""
    txn = accepted.transaction
    body = {"transaction_id": str(txn.id), "status": txn.status, **extra}
    headers = {}
    if with_status_url:
        body["status_url"] = headers["Location"] = reverse("transaction-status", kwargs={"transaction_id": txn.id})
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)
