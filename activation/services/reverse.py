"""Transactions decided synchronously, inside the caller's request: reversals, and the
ones a caller settles under its own locks (transaction_record_settled)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction as db_transaction
from django.utils import timezone

from activation import sql
from activation.locks import rows_lock, transaction_for_update
from activation.models import Transaction
from activation.registry import REVERSERS
from activation.services.settle import transaction_transition, transactions_announce, transactions_finish
from kernel.errors import ConflictError, NotPermitted


def transaction_record_settled(*, kind: str, user_id: int, amount: Decimal | None, currency: str,
                               payload: dict[str, Any], settle) -> Transaction:
    """A transaction decided inside the caller's database transaction, with the rows it needs
    already locked by the caller (a purchase of a unit the customer holds contends for
    nothing a queue would help with). `settle(txn) -> Outcome` runs with the row written, so
    ledger rows can name it; the row finishes SUCCEEDED or FAILED and is announced after
    commit like any settled transaction."""
    txn = Transaction.objects.create(kind=kind, user_id=user_id, amount=amount, currency=currency, payload=payload,
                                     status=Transaction.Status.PROCESSING, attempts=1,
                                     processing_started_at=timezone.now())
    transactions_finish([(txn, settle(txn))])
    db_transaction.on_commit(lambda: transactions_announce([txn]), robust=True)
    return txn


def transaction_reverse(*, transaction_id: UUID, requested_by_id: int | None = None, as_staff: bool = False,
                        requested_by_partner_id: int | None = None) -> Transaction:
    """Reverses a SUCCEEDED transaction synchronously: a new `<kind>_reversal` transaction
    restores every counter the original consumed, under the same row locks as its
    settlement, and the original becomes REVERSED. Reversing an already reversed transaction
    returns the existing reversal and changes nothing. Who may: staff any kind; the partner
    that made it its own; the customer only kinds whose reverser allows it."""
    with db_transaction.atomic():
        original = transaction_for_update().get(pk=transaction_id)
        if original.status == Transaction.Status.REVERSED:
            return original.reversal
        if original.status != Transaction.Status.SUCCEEDED:
            raise ConflictError("Only a succeeded transaction can be reversed.", code="not_reversible",
                                details={"status": original.status})
        reverser = REVERSERS.get(original.kind)
        if reverser is None:
            raise ConflictError(f"Transactions of kind {original.kind} cannot be reversed.", code="not_reversible")
        by_customer = not as_staff and requested_by_partner_id is None
        if by_customer and not (requested_by_id == original.user_id and reverser.customer_may_reverse):
            raise NotPermitted(f"Only staff can reverse a {original.kind}.", code="reversal_not_permitted")
        reversal = Transaction.objects.create(kind=f"{original.kind}_reversal", user_id=original.user_id,
                                              amount=original.amount, currency=original.currency,
                                              payload={"reverses": str(original.id), "requested_by": requested_by_id,
                                                       "requested_by_partner": requested_by_partner_id,
                                                       "by_customer": by_customer},
                                              reverses=original, processing_started_at=timezone.now())
        locked = rows_lock(reverser.lock_targets(original))
        outcome = reverser.reverse(original, reversal, locked)
        if not outcome.succeeded:
            raise ConflictError(outcome.failure_message or "The transaction cannot be reversed.",
                                code=outcome.failure_code)
        transactions_finish([(reversal, outcome)])
        transaction_transition(original, Transaction.Status.REVERSED)
        original.save(update_fields=["status", "updated_at"])
        sql.outbox_record([(original.id, original.status)], now=original.updated_at)
        locked.flush()
        db_transaction.on_commit(lambda: transactions_announce([original, reversal]), robust=True)
    return reversal
