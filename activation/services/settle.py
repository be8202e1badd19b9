"""Settling: claim PENDING rows (PROCESSING), lock the rows their settlers name in the fixed
order, let each settler re-check its rules on the locked rows and write, finish every
transaction SUCCEEDED or FAILED, commit, then announce.

    transactions_settle_pending()   what one settlement message does: batch after batch
      transactions_settle()         one batch: claim, then settle in one database transaction
"""
from __future__ import annotations

import logging
import random
import time
from itertools import groupby
from uuid import UUID

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db import transaction as db_transaction
from django.utils import timezone
from psycopg.errors import DeadlockDetected, SerializationFailure

from activation import sql
from activation.errors import EngineFailure
from activation.locks import rows_lock, transactions_lock_settleable
from activation.models import Transaction
from activation.registry import SETTLERS, LockedRows, Outcome, transactions_finished
from activation.selectors import transaction_status_payload
from activation.services.dispatch import settlement_message_ensure, settlement_wanted_clear
from activation.services.outbox import finished_statuses_publish_and_drain_ensure

logger = logging.getLogger(__name__)

DEADLOCK_RETRIES = 3


class SettledBatch(list):
    """The transactions one batch finished, and `claimed`: how many rows it claimed (fewer
    than the batch size means nothing more was waiting)."""

    def __init__(self, finished: list[Transaction] = (), *, claimed: int = 0) -> None:
        super().__init__(finished)
        self.claimed = claimed


def transactions_settle_pending(*, transaction_id: UUID | None = None) -> int:
    """What one settlement message does: settles `transaction_id`, then every PENDING
    transaction, batch after batch, until a batch comes back short (nothing more is
    waiting) or SETTLEMENT_DRAIN_SECONDS are spent. Returns how many it finished.

    The flag that brought the message (SETTLEMENT_WANTED) stays up while it works, so what
    is accepted meanwhile publishes no message of its own: once a batch comes back short
    the message lowers the flag and looks once more, which finds whatever committed before
    it was lowered; what commits after raises it again. (Lowering it first cost a message
    per handful of accepts under load: docs/PERFORMANCE.md.)

    A full batch means a backlog: the flag is handed over to a new message (at most one is
    queued, as for new transactions), so an idle settlement process joins the drain instead
    of waiting for this one to hand over, and whatever is left after the deadline is covered."""
    batch_size = settings.SETTLEMENT_BATCH_SIZE
    deadline = time.monotonic() + settings.SETTLEMENT_DRAIN_SECONDS
    finished = 0
    flag_held = True
    while True:
        batch = transactions_settle(transaction_id=transaction_id, batch_size=batch_size)
        finished += len(batch)
        transaction_id = None
        if batch.claimed < batch_size:
            if not flag_held:
                return finished
            settlement_wanted_clear()  # then one more look
            flag_held = False
            continue
        if flag_held:
            settlement_wanted_clear()
            flag_held = False
        settlement_message_ensure()
        if time.monotonic() >= deadline:
            return finished


def transactions_settle(*, transaction_id: UUID | None = None, batch_size: int | None = None) -> SettledBatch:
    """Settles `transaction_id` and, to amortise locks and commits under load, up to
    batch_size - 1 other pending transactions, in one database transaction. Idempotent: a
    transaction that is already terminal (or being settled elsewhere) is skipped."""
    claimed = sql.transactions_claim(first_id=transaction_id, limit=batch_size or settings.SETTLEMENT_BATCH_SIZE)
    if not claimed:
        return SettledBatch()
    return SettledBatch(_claimed_transactions_settle_retrying(claimed), claimed=len(claimed))


def _claimed_transactions_settle_retrying(claimed: list[tuple]) -> list[Transaction]:
    for attempt in range(DEADLOCK_RETRIES):
        try:
            try:
                return _claimed_transactions_settle(claimed=claimed, isolated=False)
            except _SettlerRaised as exc:
                if len(claimed) == 1:
                    logger.error("settling %s raised; it will be retried", claimed[0][0], exc_info=exc.__cause__)
                    return []
                logger.warning("a settler raised in a batch of %d; settling it again item by item", len(claimed),
                               exc_info=exc.__cause__)
                return _claimed_transactions_settle(claimed=claimed, isolated=True)
        except OperationalError as exc:
            # PostgreSQL broke a lock cycle by aborting us; the claimed rows are still ours.
            if not isinstance(exc.__cause__, (DeadlockDetected, SerializationFailure)) or attempt == DEADLOCK_RETRIES - 1:
                raise
            logger.warning("settlement batch of %d hit %r; retrying", len(claimed), exc.__cause__)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    return []


def _claimed_transactions_settle(*, claimed: list[tuple], isolated: bool) -> list[Transaction]:
    """Settles claimed rows in one database transaction. Instances are built afresh from the
    claimed rows on each call (a retry after a deadlock, or the item-by-item replay after a
    settler raised, starts from what the claim saw).

    Not `isolated` (the fast path): every settler runs with no savepoint, and if one raises,
    the whole transaction rolls back (_SettlerRaised) for the caller to replay the batch
    `isolated`: each item in a savepoint of its own, so only the bad item is left claimed for
    a retry. A savepoint around every batch cost two round trips per batch, a third of a
    batch of two's time (docs/PERFORMANCE.md); a raising settler is a bug, and rare."""
    with db_transaction.atomic():
        settleable = transactions_lock_settleable([row[0] for row in claimed])
        txns = [sql.claimed_transaction_build(row) for row in claimed if row[0] in settleable]
        given_up: list[tuple[Transaction, Outcome]] = []
        runnable: list[Transaction] = []
        for txn in txns:
            if txn.attempts > settings.SETTLEMENT_MAX_ATTEMPTS:
                given_up.append((txn, Outcome.failure(EngineFailure.SETTLEMENT_ERROR.value,
                                                      "Settlement kept failing; it was given up.")))
            elif txn.kind not in SETTLERS:
                given_up.append((txn, Outcome.failure(EngineFailure.UNKNOWN_KIND.value,
                                                      f"No settler for {txn.kind}.")))
            else:
                runnable.append(txn)
        locked = rows_lock([target for txn in runnable for target in SETTLERS[txn.kind].lock_targets(txn)])
        ordered = sorted(runnable, key=lambda t: t.created_at)
        if isolated:
            settled = [(txn, outcome) for txn, outcome in _items_settle_isolated(ordered, locked) if outcome is not None]
        else:
            settled = _all_settle(ordered, locked)
        transactions_finish(given_up + settled)
        finished = [txn for txn, _ in given_up + settled]
        locked.flush()
        db_transaction.on_commit(lambda: transactions_announce(finished), robust=True)
    return finished


class _SettlerRaised(Exception):
    """A settler raised on the fast path: the settlement transaction is rolled back."""


def _all_settle(txns: list[Transaction], locked: LockedRows) -> list[tuple[Transaction, Outcome]]:
    """The fast path: the batch, kind by kind, with no savepoint. Database connection errors
    and deadlocks propagate unchanged, to the retries above; anything else a settler raises
    becomes _SettlerRaised."""
    try:
        return _kinds_settle(txns, locked)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        raise _SettlerRaised() from exc


def _items_settle_isolated(txns: list[Transaction], locked: LockedRows) -> list[tuple[Transaction, Outcome | None]]:
    """The replay after a settler raised: one item at a time, each in its own savepoint
    (None: that item raised and is left for a retry)."""
    return [(txn, _settle_one(txn, locked, lambda: SETTLERS[txn.kind].settle(txn, locked))) for txn in txns]


def _kinds_settle(txns: list[Transaction], locked: LockedRows) -> list[tuple[Transaction, Outcome]]:
    """Kind by kind (kinds share no rows that order could matter for, except budgets, where
    any serial order of concurrent requests is a valid one), in arrival order within a kind."""
    outcomes: dict[UUID, Outcome] = {}
    for kind, group in groupby(sorted(txns, key=lambda t: t.kind), key=lambda t: t.kind):
        group = list(group)
        settler = SETTLERS[kind]
        settle_batch = getattr(settler, "settle_batch", None)
        results = settle_batch(group, locked) if settle_batch else [settler.settle(txn, locked) for txn in group]
        outcomes.update(zip((txn.id for txn in group), results, strict=True))
    return [(txn, outcomes[txn.id]) for txn in txns]


def _settle_one(txn: Transaction, locked: LockedRows, settle) -> Outcome | None:
    """One item of a batch in its own savepoint: a bug in one item rolls back that item
    only; it stays PROCESSING and is retried (then given up after the attempt limit)."""
    before = locked.snapshot()
    try:
        with db_transaction.atomic():
            return settle()
    except Exception:
        logger.exception("settling %s (%s) raised; it will be retried", txn.id, txn.kind)
        locked.restore(before)
        return None


def transactions_finish(items: list[tuple[Transaction, Outcome]]) -> None:
    """The one way an outcome becomes a row: each transaction SUCCEEDED or FAILED with the
    outcome's code, message and result, settled now, in one statement for the lot. The
    instances are updated to match."""
    now = timezone.now()
    for txn, outcome in items:
        transaction_transition(txn, Transaction.Status.SUCCEEDED if outcome.succeeded else Transaction.Status.FAILED)
        txn.failure_code = outcome.failure_code
        txn.failure_message = outcome.failure_message[:255]
        txn.result = outcome.result
        txn.settled_at = txn.updated_at = now
    sql.transactions_finish_write([txn for txn, _ in items], now=now)


def transaction_transition(txn: Transaction, target: str) -> None:
    if target not in Transaction.ALLOWED_TRANSITIONS[txn.status]:
        raise ValueError(f"illegal transition {txn.status} -> {target} for {txn.id}")
    txn.status = target


def transactions_announce(txns: list[Transaction]) -> None:
    """After commit only: statuses to Redis (and pub/sub for long-polls) with a drain of the
    outbox on its way (the side effects: activation.services.outbox), in one Redis command,
    then the log lines and the observation signal, once for the batch. Each step is a fast
    path: if this process dies first, the outbox rows committed with the outcomes are drained
    by the sweep."""
    if not txns:
        return
    finished_statuses_publish_and_drain_ensure([transaction_status_payload(t) for t in txns])
    _finished_log(txns)
    transactions_finished.send_robust(sender=Transaction, transactions=txns)


def _finished_log(txns: list[Transaction]) -> None:
    """One line per finished transaction, committed, naming the request that created it."""
    if not logger.isEnabledFor(logging.INFO):
        return
    for txn in txns:
        extra = {"transaction_id": str(txn.id), "kind": txn.kind, "status": txn.status,
                 "failure_code": txn.failure_code, "attempts": txn.attempts}
        if txn.request_id:
            extra["request_id"] = txn.request_id
        logger.info("transaction finished", extra=extra)
