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


def accepted_response(accepted: Accepted, **extra) -> Response:
    txn = accepted.transaction
    status_url = reverse("transaction-status", kwargs={"transaction_id": txn.id})
    body = {"transaction_id": str(txn.id), "status": txn.status, "status_url": status_url, **extra}
    headers = {"Location": status_url}
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)
