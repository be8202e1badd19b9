"""What every API view that accepts a transaction shares: reading the Idempotency-Key
header and answering 202 with the status URL."""
import re

from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.response import Response

from activation.services import Accepted

IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


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
