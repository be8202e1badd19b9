from datetime import timedelta
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from activation.models import Transaction

# A status in Redis that still says PENDING this long after acceptance is double-checked in
# PostgreSQL, so a status lost between commit and publish cannot keep a client waiting.
STATUS_HINT_TRUSTED_FOR = timedelta(seconds=5)


def transaction_status_payload(txn: Transaction) -> dict:
    """The body of a status response, and what the Redis status store holds."""
    return {
        "transaction_id": str(txn.id),
        "kind": txn.kind,
        "status": txn.status,
        "failure_code": txn.failure_code or None,
        "failure_message": txn.failure_message or None,
        "result": txn.result or {},
        "amount": str(txn.amount) if txn.amount is not None else None,
        "currency": txn.currency or None,
        "created_at": txn.created_at.isoformat(),
        "settled_at": txn.settled_at.isoformat() if txn.settled_at else None,
        "user_id": txn.user_id,
    }


def transaction_status_get(*, transaction_id: UUID, user_id: int) -> dict | None:
    """From PostgreSQL; None when it does not exist or is not the user's."""
    txn = Transaction.objects.filter(pk=transaction_id, user_id=user_id).first()
    return transaction_status_payload(txn) if txn else None


def status_hint_is_fresh(payload: dict) -> bool:
    if payload["status"] not in ("PENDING", "PROCESSING"):
        return True
    created = timezone.datetime.fromisoformat(payload["created_at"])
    return timezone.now() - created < STATUS_HINT_TRUSTED_FOR


def transaction_list_for_user(*, user_id: int, kind: str | None = None, status: str | None = None) -> QuerySet:
    qs = Transaction.objects.filter(user_id=user_id).order_by("-created_at")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def transaction_get_for_user(*, user_id: int, transaction_id: UUID) -> Transaction | None:
    return Transaction.objects.filter(pk=transaction_id, user_id=user_id).first()


def transaction_get_for_reversal(*, transaction_id: UUID, user) -> Transaction | None:
    """The owner's transaction, or any transaction for staff; None otherwise (a 404)."""
    qs = Transaction.objects.all() if user.is_staff else Transaction.objects.filter(user_id=user.id)
    return qs.filter(pk=transaction_id).first()
