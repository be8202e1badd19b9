"""Accepting a transaction: a PENDING row (with its idempotency key, if any), then after
commit its status published and a settlement message on its way (dispatch)."""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.utils import timezone

from activation import sql
from activation.models import IdempotencyKey, Transaction
from activation.registry import idempotency_conflict, idempotency_replayed, transaction_accepted
from activation.services.dispatch import transactions_dispatch
from kernel.errors import IdempotencyInProgress, IdempotencyKeyReused
from kernel.request_id import request_id_current

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Accepted:
    transaction: Transaction
    replayed: bool


def request_fingerprint(*, kind: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps({"kind": kind, "payload": payload}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _advisory_lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"{scope}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def transaction_accept(*, kind: str, user_id: int, payload: dict[str, Any], amount: Decimal | None = None,
                       currency: str = "", idempotency_key: str | None = None,
                       idempotency_scope: str | None = None, idempotency_retained: bool = False) -> Accepted:
    """Writes a PENDING transaction and, after commit, publishes its status and enqueues
    its settlement. With an idempotency key: the same key and body return the original
    transaction; a different body is refused (422); a request racing the first is 409.
    `idempotency_retained`: the key is never pruned, so it stays unique for ever."""
    scope = idempotency_scope or f"user:{user_id}"
    fingerprint = request_fingerprint(kind=kind, payload=payload)
    try:
        accepted = _transaction_accept(kind=kind, user_id=user_id, payload=payload, amount=amount, currency=currency,
                                       idempotency_key=idempotency_key, scope=scope, fingerprint=fingerprint,
                                       retained=idempotency_retained)
    except IdempotencyInProgress:
        idempotency_conflict.send_robust(sender=Transaction, kind=kind, reason="in_progress")
        raise
    except IdempotencyKeyReused:
        idempotency_conflict.send_robust(sender=Transaction, kind=kind, reason="key_reused")
        raise
    if accepted.replayed:
        # The line that ties this request's id to the transaction an earlier request created.
        logger.info("transaction replayed", extra={"transaction_id": str(accepted.transaction.id), "kind": kind})
        idempotency_replayed.send_robust(sender=Transaction, kind=kind)
    return accepted


def _transaction_accept(*, kind: str, user_id: int, payload: dict[str, Any], amount: Decimal | None, currency: str,
                        idempotency_key: str | None, scope: str, fingerprint: str, retained: bool) -> Accepted:
    if not idempotency_key:
        # One INSERT: in autocommit it is its own transaction (one round trip, not BEGIN +
        # INSERT + COMMIT); inside a caller's transaction the callbacks wait for its commit.
        txn = _pending_insert(kind=kind, user_id=user_id, payload=payload, amount=amount, currency=currency,
                              idempotency_key="")
        _after_commit_dispatch(txn)
        return Accepted(transaction=txn, replayed=False)
    try:
        with db_transaction.atomic():
            existing = _idempotency_lookup(scope=scope, key=idempotency_key, fingerprint=fingerprint)
            if existing is not None:
                return Accepted(transaction=existing, replayed=True)
            txn = _pending_insert(kind=kind, user_id=user_id, payload=payload, amount=amount, currency=currency,
                                  idempotency_key=idempotency_key)
            IdempotencyKey.objects.create(scope=scope, key=idempotency_key, request_fingerprint=fingerprint,
                                          transaction=txn, retained=retained)
            _after_commit_dispatch(txn)
    except IntegrityError:
        # Only the idempotency key is unique here: a concurrent twin committed first.
        existing = _idempotency_lookup(scope=scope, key=idempotency_key, fingerprint=fingerprint, lock=False)
        if existing is None:
            raise IdempotencyInProgress()
        return Accepted(transaction=existing, replayed=True)
    return Accepted(transaction=txn, replayed=False)


def _pending_insert(*, kind: str, user_id: int, payload: dict[str, Any], amount: Decimal | None, currency: str,
                    idempotency_key: str) -> Transaction:
    return sql.transaction_insert_pending(id=uuid.uuid4(), kind=kind, user_id=user_id, payload=payload,
                                          amount=amount, currency=currency, idempotency_key=idempotency_key,
                                          request_id=request_id_current(), created_at=timezone.now())


def _after_commit_dispatch(txn: Transaction) -> None:
    db_transaction.on_commit(lambda: transactions_dispatch([txn]), robust=True)
    db_transaction.on_commit(lambda: _accepted_announce(txn), robust=True)


def _accepted_announce(txn: Transaction) -> None:
    """After commit: the web's log line of the transaction (the request id comes from the
    context) and the metrics signal."""
    logger.info("transaction accepted", extra={"transaction_id": str(txn.id), "kind": txn.kind})
    transaction_accepted.send_robust(sender=Transaction, transaction=txn)


def _idempotency_lookup(*, scope: str, key: str, fingerprint: str, lock: bool = True) -> Transaction | None:
    # The advisory lock serialises twins on (scope, key) without waiting: the loser gets a 409 at once.
    if lock and not sql.advisory_xact_lock_try(_advisory_lock_id(scope, key)):
        raise IdempotencyInProgress()
    record = IdempotencyKey.objects.filter(scope=scope, key=key).select_related("transaction").first()
    if record is None:
        return None
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return record.transaction
