"""The transaction engine: accept, settle, sweep.

    API view -> transaction_accept()  PENDING row + idempotency key, commit
                 on commit -> status to Redis, transaction_settle_task enqueued
    worker   -> transactions_settle_pending()  batch after batch until none is pending:
                 transactions_settle()  claim (PROCESSING) -> lock rows in fixed order ->
                 settler re-checks rules and writes -> SUCCEEDED/FAILED, commit
                 on commit -> status to Redis + pub/sub, transactions_finished signal
    beat     -> transactions_sweep()   re-enqueue anything left unfinished too long
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any, Iterable
from uuid import UUID

from django.conf import settings
import redis
from django.db import IntegrityError, InterfaceError, OperationalError, connection
from django.db import transaction as db_transaction
from django.utils import timezone
from psycopg.errors import DeadlockDetected, SerializationFailure

from activation.locks import transaction_for_update, transactions_lock_settleable
from activation.models import IdempotencyKey, Transaction
from activation.registry import (REVERSERS, SETTLERS, LockedRows, LockTarget, Outcome, idempotency_conflict,
                                 idempotency_replayed, transaction_accepted, transactions_finished,
                                 transactions_swept)
from activation.selectors import transaction_status_payload
from activation.status import statuses_publish, statuses_publish_and_flag_set
from kernel.errors import ConflictError, IdempotencyInProgress, IdempotencyKeyReused, NotPermitted
from kernel.fastjson import json_loads, json_text
from kernel.prepared_sql import model_columns, prepared_cursor, prepared_instances
from kernel.redis_store import redis_store

logger = logging.getLogger(__name__)

FAILURE_SETTLEMENT_ERROR = "settlement_error"
DEADLOCK_RETRIES = 3
FAILURE_UNKNOWN_KIND = "unknown_kind"


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
                       idempotency_scope: str | None = None) -> Accepted:
    """Writes a PENDING transaction and, after commit, publishes its status and enqueues
    its settlement. With an idempotency key: the same key and body return the original
    transaction; a different body is refused (422); a request racing the first is 409."""
    scope = idempotency_scope or f"user:{user_id}"
    fingerprint = request_fingerprint(kind=kind, payload=payload)
    try:
        accepted = _transaction_accept(kind=kind, user_id=user_id, payload=payload, amount=amount, currency=currency,
                                       idempotency_key=idempotency_key, scope=scope, fingerprint=fingerprint)
    except IdempotencyInProgress:
        idempotency_conflict.send_robust(sender=Transaction, kind=kind, reason="in_progress")
        raise
    except IdempotencyKeyReused:
        idempotency_conflict.send_robust(sender=Transaction, kind=kind, reason="key_reused")
        raise
    if accepted.replayed:
        idempotency_replayed.send_robust(sender=Transaction, kind=kind)
    return accepted


def _transaction_accept(*, kind: str, user_id: int, payload: dict[str, Any], amount: Decimal | None, currency: str,
                        idempotency_key: str | None, scope: str, fingerprint: str) -> Accepted:
    if not idempotency_key:
        # One INSERT: in autocommit it is its own transaction (one round trip, not BEGIN +
        # INSERT + COMMIT); inside a caller's transaction the callbacks wait for its commit.
        txn = Transaction.objects.create(kind=kind, user_id=user_id, payload=payload, amount=amount,
                                         currency=currency)
        _after_commit_dispatch(txn)
        return Accepted(transaction=txn, replayed=False)
    try:
        with db_transaction.atomic():
            existing = _idempotency_lookup(scope=scope, key=idempotency_key, fingerprint=fingerprint)
            if existing is not None:
                return Accepted(transaction=existing, replayed=True)
            txn = Transaction.objects.create(kind=kind, user_id=user_id, payload=payload, amount=amount,
                                             currency=currency, idempotency_key=idempotency_key)
            IdempotencyKey.objects.create(scope=scope, key=idempotency_key, request_fingerprint=fingerprint,
                                          transaction=txn)
            _after_commit_dispatch(txn)
    except IntegrityError:
        # Only the idempotency key is unique here: a concurrent twin committed first.
        existing = _idempotency_lookup(scope=scope, key=idempotency_key, fingerprint=fingerprint, lock=False)
        if existing is None:
            raise IdempotencyInProgress()
        return Accepted(transaction=existing, replayed=True)
    return Accepted(transaction=txn, replayed=False)


def _after_commit_dispatch(txn: Transaction) -> None:
    db_transaction.on_commit(lambda: transactions_dispatch([txn]), robust=True)
    db_transaction.on_commit(lambda: transaction_accepted.send_robust(sender=Transaction, transaction=txn),
                             robust=True)


def _idempotency_lookup(*, scope: str, key: str, fingerprint: str, lock: bool = True) -> Transaction | None:
    if lock:
        # Serialises twins on (scope, key) without waiting: the loser gets a 409 at once.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_advisory_lock_id(scope, key)])
            if not cursor.fetchone()[0]:
                raise IdempotencyInProgress()
    record = IdempotencyKey.objects.filter(scope=scope, key=key).select_related("transaction").first()
    if record is None:
        return None
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return record.transaction


BROKER_BACKOFF_SECONDS = 5.0
_broker_down_until = 0.0

# Settlement messages are coalesced. A message does not settle "its" transaction only: it
# drains every PENDING one (transactions_settle_pending). So while a message is queued and
# not yet started, the next transactions need none. The flag says "a message is on its way":
# set (NX) by whoever publishes one, cleared by the message's task *before* it looks for
# pending rows, so a transaction committed before the flag was seen set is always found by
# the message that set it. The flag expires by itself: a lost message delays work by at
# most SETTLEMENT_WANTED_TTL_MS under load, and the sweeper covers an idle system.
SETTLEMENT_WANTED_KEY = "offers:settlement:wanted"


def transactions_dispatch(txns: Iterable[Transaction]) -> int:
    """After commit of new PENDING transactions: publishes their statuses and makes sure a
    settlement message is on its way (at most one is published; none if one is already
    queued); the statuses and the "message wanted" flag go in one Redis command. Returns the
    number of messages published. A failure here loses nothing (the rows are durable): after
    a broker failure this process stops publishing for a few seconds, so requests stay fast
    during an outage, and the sweeper enqueues whatever is left behind."""
    txns = list(txns)
    if not txns:
        return 0
    payloads = [transaction_status_payload(t) for t in txns]
    if time.monotonic() < _broker_down_until:
        statuses_publish(payloads)
        return 0
    if statuses_publish_and_flag_set(payloads, flag_key=SETTLEMENT_WANTED_KEY,
                                     flag_ttl_ms=settings.SETTLEMENT_WANTED_TTL_MS):
        return _settlement_message_publish_or_lower_flag(txns[0].id)
    return 0


def _settlement_message_ensure(transaction_id: UUID | None) -> int:
    """Publishes a settlement message unless one is already on its way; 1 if it published."""
    if not _settlement_wanted_flag_set():
        return 0
    return _settlement_message_publish_or_lower_flag(transaction_id)


def _settlement_message_publish_or_lower_flag(transaction_id: UUID | None) -> int:
    """For the caller that raised the flag: publishes the message it stands for; 1 if it did."""
    if _settlement_message_publish(transaction_id):
        return 1
    _settlement_wanted_flag_clear()  # the next caller tries again (after the broker backoff)
    return 0


def _settlement_wanted_flag_set() -> bool:
    """True if the caller must publish a message (it set the flag, or Redis cannot say)."""
    try:
        return bool(redis_store().set(SETTLEMENT_WANTED_KEY, "1", nx=True,
                                       px=settings.SETTLEMENT_WANTED_TTL_MS))
    except redis.RedisError:
        return True


def _settlement_wanted_flag_clear() -> None:
    try:
        redis_store().delete(SETTLEMENT_WANTED_KEY)
    except redis.RedisError:
        pass  # it expires by itself


def _settlement_message_publish(transaction_id: UUID | None) -> bool:
    global _broker_down_until
    from activation.tasks import transaction_settle_task

    try:
        transaction_settle_task.apply_async(args=[str(transaction_id) if transaction_id else None])
        return True
    except Exception as exc:  # broker down: the sweeper re-enqueues later
        logger.warning("could not enqueue settlement (%s): %r", transaction_id, exc)
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        return False


# --- settlement ------------------------------------------------------------------------------

def transactions_settle_pending(*, transaction_id: UUID | None = None) -> int:
    """What one settlement message does: settles `transaction_id`, then every PENDING
    transaction, batch after batch, until a batch comes back short (nothing more is
    waiting) or SETTLEMENT_DRAIN_SECONDS are spent. Returns how many it finished.

    A full batch means a backlog: it makes sure a message is on its way (at most one is
    queued, as for new transactions), so an idle settlement process joins the drain instead
    of waiting for this one to hand over, and whatever is left after the deadline is covered."""
    _settlement_wanted_flag_clear()  # before looking: whatever commits from now on needs a new message
    batch_size = settings.SETTLEMENT_BATCH_SIZE
    deadline = time.monotonic() + settings.SETTLEMENT_DRAIN_SECONDS
    finished = 0
    while True:
        claimed, settled = _transactions_claim_and_settle(first_id=transaction_id, batch_size=batch_size)
        finished += len(settled)
        transaction_id = None
        if claimed < batch_size:
            return finished
        _settlement_message_ensure(None)
        if time.monotonic() >= deadline:
            return finished


def transactions_settle(*, transaction_id: UUID | None = None, batch_size: int | None = None) -> list[Transaction]:
    """Settles `transaction_id` and, to amortise locks and commits under load, up to
    batch_size - 1 other pending transactions, in one database transaction. Idempotent: a
    transaction that is already terminal (or being settled elsewhere) is skipped."""
    return _transactions_claim_and_settle(first_id=transaction_id,
                                          batch_size=batch_size or settings.SETTLEMENT_BATCH_SIZE)[1]


def _transactions_claim_and_settle(*, first_id: UUID | None, batch_size: int) -> tuple[int, list[Transaction]]:
    claimed = _transactions_claim(first_id=first_id, limit=batch_size)
    if not claimed:
        return 0, []
    return len(claimed), _claimed_transactions_settle_retrying(claimed)


def _claimed_transactions_settle_retrying(claimed: list[tuple]) -> list[Transaction]:
    for attempt in range(DEADLOCK_RETRIES):
        try:
            return _claimed_transactions_settle(claimed=claimed)
        except _LoneItemRaised as exc:
            logger.error("settling %s raised; it will be retried", exc.args[0], exc_info=exc.__cause__)
            return []
        except OperationalError as exc:
            # PostgreSQL broke a lock cycle by aborting us; the claimed rows are still ours.
            if not isinstance(exc.__cause__, (DeadlockDetected, SerializationFailure)) or attempt == DEADLOCK_RETRIES - 1:
                raise
            logger.warning("settlement batch of %d hit %r; retrying", len(claimed), exc.__cause__)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    return []


_CLAIM_SQL = """
WITH no_flush_wait AS MATERIALIZED (
    SELECT set_config('synchronous_commit',
                      CASE WHEN %(no_flush_wait)s THEN 'off' ELSE current_setting('synchronous_commit') END, true)
), first AS (
    SELECT id FROM activation_transaction
     WHERE id = %(first)s::uuid AND status IN ('PENDING', 'PROCESSING')
     FOR NO KEY UPDATE SKIP LOCKED
), more AS (
    SELECT id FROM activation_transaction
     WHERE status = 'PENDING' AND id IS DISTINCT FROM %(first)s::uuid
     ORDER BY created_at LIMIT %(more)s
     FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE activation_transaction t
   SET status = 'PROCESSING', attempts = t.attempts + 1, processing_started_at = now(), updated_at = now()
 WHERE t.id IN (SELECT id FROM first UNION ALL SELECT id FROM more)
   AND EXISTS (SELECT FROM no_flush_wait)
RETURNING %(returning)s
"""
# What the claim returns of each row: everything settlers, the status payload and the
# finished-signal receivers read. None of it changes while the row is claimed except the
# status, which the settlement re-reads under its lock (activation.locks), and the attempt
# count, which only a second claim of the same row raises (a message naming a stale
# PROCESSING row): this claim's count is then one low, which only delays giving up. Left out
# and so deferred on the instances: updated_at and processing_started_at (the claim just set
# them) and what the settlement itself writes (result, failure_*, settled_at).
# created_at travels as ISO 8601 text for datetime.fromisoformat (C), about 30x cheaper than
# the timestamptz loader Django installs (Python), whatever the session's time zone.
_CLAIMED_COLUMNS = ("id", "kind", "user_id", "status", "amount", "currency", "payload", "idempotency_key",
                    "reverses_id", "attempts", "created_at")
_CLAIM_SQL = _CLAIM_SQL.replace("%(returning)s", ", ".join(
    """to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""" if column == "created_at"
    else f"t.{column}" for column in _CLAIMED_COLUMNS))


def _transactions_claim(*, first_id: UUID | None, limit: int) -> list[tuple]:
    """PENDING -> PROCESSING in one statement, its own transaction (one round trip), skipping
    rows another worker holds. Its commit does not wait for the WAL flush (the statement
    sets synchronous_commit off for its own transaction, as SET LOCAL would): losing a claim
    in a database crash only leaves the row PENDING with its previous attempt count, and
    the settlement commit that follows flushes the claim's WAL record with its own. Inside a
    caller's transaction it leaves the setting alone (it would last until that commit).
    Returns the claimed rows (_CLAIMED_COLUMNS), so the settlement need not load them again."""
    with prepared_cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"first": first_id, "more": max(limit - (1 if first_id else 0), 0),
                                    "no_flush_wait": not connection.in_atomic_block})
        return cursor.fetchall()


def _claimed_transaction_build(row: tuple) -> Transaction:
    columns = dict(zip(_CLAIMED_COLUMNS, row))
    columns["payload"] = json_loads(columns["payload"])  # jsonb arrives as text, as for the ORM
    columns["created_at"] = datetime.fromisoformat(columns["created_at"])
    return Transaction.from_loaded_columns(columns)


def _claimed_transactions_settle(*, claimed: list[tuple]) -> list[Transaction]:
    """Settles claimed rows in one database transaction. Instances are built afresh from the
    claimed rows on each call (a retry after a deadlock starts from what the claim saw)."""
    finished: list[Transaction] = []
    with db_transaction.atomic():
        settleable = transactions_lock_settleable([row[0] for row in claimed])
        txns = [_claimed_transaction_build(row) for row in claimed if row[0] in settleable]
        runnable: list[Transaction] = []
        for txn in txns:
            if txn.attempts > settings.SETTLEMENT_MAX_ATTEMPTS:
                _transaction_finish(txn, Outcome.failure(FAILURE_SETTLEMENT_ERROR,
                                                         "Settlement kept failing; it was given up."))
                finished.append(txn)
            elif txn.kind not in SETTLERS:
                _transaction_finish(txn, Outcome.failure(FAILURE_UNKNOWN_KIND, f"No settler for {txn.kind}."))
                finished.append(txn)
            else:
                runnable.append(txn)
        locked = rows_lock([target for txn in runnable for target in SETTLERS[txn.kind].lock_targets(txn)])
        ordered = sorted(runnable, key=lambda t: t.created_at)
        if len(ordered) == 1 and not finished:
            settled = _lone_settle(ordered[0], locked)
        else:
            settled = [(txn, outcome) for txn, outcome in _batch_settle(ordered, locked) if outcome is not None]
        _transactions_finish(settled)
        finished += [txn for txn, _ in settled]
        locked.flush()
        db_transaction.on_commit(lambda: transactions_announce(finished), robust=True)
    return finished


class _LoneItemRaised(Exception):
    """The only item of a settlement transaction raised in its settler."""


def _lone_settle(txn: Transaction, locked: LockedRows) -> list[tuple[Transaction, Outcome]]:
    """A batch of one (the common case below full load) needs no savepoint: if its settler
    raises, the whole settlement transaction rolls back, which leaves the item claimed for a
    retry exactly as the per-item savepoint of a larger batch would (two round trips less).
    Database connection errors and deadlocks propagate unchanged, to the retries above."""
    try:
        return _kinds_settle([txn], locked)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        raise _LoneItemRaised(txn.id) from exc


def _batch_settle(txns: list[Transaction], locked: LockedRows) -> list[tuple[Transaction, Outcome | None]]:
    """Fast path: the whole batch in one savepoint (two round trips, not two per item), each
    kind through its settler's `settle_batch` when it has one. If anything raises, that
    savepoint and the in-memory rows are rolled back and the batch is replayed one item at a
    time, each in its own savepoint, so only the bad item is left for a retry."""
    before = locked.snapshot()
    try:
        with db_transaction.atomic():
            return _kinds_settle(txns, locked)
    except Exception:
        locked.restore(before)
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


def rows_lock(targets: Iterable[LockTarget]) -> LockedRows:
    """SELECT ... FOR UPDATE on every target, in the platform's fixed order (rank, then
    primary key), one query per (rank, model, field)."""
    locked = LockedRows()
    ordered = sorted(targets, key=lambda t: (t.rank, t.model._meta.label, t.field))
    for (_, model, field_name), group in groupby(ordered, key=lambda t: (t.rank, t.model, t.field)):
        values = list({t.value for t in group})
        for instance in prepared_instances(model, _rows_lock_sql(model, field_name), [values]):
            locked.add(model, field_name, instance)
    return locked


@functools.cache
def _rows_lock_sql(model, field_name: str) -> str:
    """What select_for_update().filter(<field>__in=...).order_by("pk") sends, written once per
    (model, field) and prepared: compiling that queryset cost more than running it (a lone
    settlement locks two or three rows), and planning it about as much again."""
    quote = connection.ops.quote_name
    column = model._meta.get_field(field_name).column
    return (f"SELECT {model_columns(model)} FROM {quote(model._meta.db_table)} WHERE {quote(column)} = ANY(%s) "
            f"ORDER BY {quote(model._meta.pk.column)} FOR UPDATE")


def _transaction_finish(txn: Transaction, outcome: Outcome) -> None:
    target = Transaction.Status.SUCCEEDED if outcome.succeeded else Transaction.Status.FAILED
    transaction_transition(txn, target)
    txn.failure_code = outcome.failure_code
    txn.failure_message = outcome.failure_message[:255]
    txn.result = outcome.result
    txn.settled_at = timezone.now()
    txn.save(update_fields=["status", "failure_code", "failure_message", "result", "settled_at", "updated_at"])


_FINISH_SQL = f"""
UPDATE {Transaction._meta.db_table} t
   SET status = v.status, failure_code = v.failure_code, failure_message = v.failure_message,
       result = v.result, settled_at = %(now)s, updated_at = %(now)s
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS v(id uuid, status text, failure_code text, failure_message text,
                                                 result jsonb)
 WHERE t.id = v.id
"""


def _transactions_finish(items: list[tuple[Transaction, Outcome]]) -> None:
    """_transaction_finish for a whole batch, in one statement (the rows travel as one JSON
    parameter: far cheaper to encode than one array per column)."""
    now = timezone.now()
    rows = []
    for txn, outcome in items:
        transaction_transition(txn, Transaction.Status.SUCCEEDED if outcome.succeeded else Transaction.Status.FAILED)
        txn.failure_code = outcome.failure_code
        txn.failure_message = outcome.failure_message[:255]
        txn.result = outcome.result
        txn.settled_at = txn.updated_at = now
        rows.append({"id": txn.id, "status": txn.status, "failure_code": txn.failure_code,
                     "failure_message": txn.failure_message, "result": txn.result})
    if rows:
        with prepared_cursor() as cursor:
            cursor.execute(_FINISH_SQL, {"now": now, "rows": json_text(rows)})


def transaction_transition(txn: Transaction, target: str) -> None:
    if target not in Transaction.ALLOWED_TRANSITIONS[txn.status]:
        raise ValueError(f"illegal transition {txn.status} -> {target} for {txn.id}")
    txn.status = target


def transactions_announce(txns: list[Transaction]) -> None:
    """After commit only: statuses to Redis (and pub/sub for long-polls), then the signal,
    once for the batch."""
    if not txns:
        return
    statuses_publish(transaction_status_payload(t) for t in txns)
    transactions_finished.send_robust(sender=Transaction, transactions=txns)


# --- synchronous transactions ------------------------------------------------------------------

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
    _transaction_finish(txn, settle(txn))
    db_transaction.on_commit(lambda: transactions_announce([txn]), robust=True)
    return txn


# --- reversal --------------------------------------------------------------------------------

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
        _transaction_finish(reversal, outcome)
        transaction_transition(original, Transaction.Status.REVERSED)
        original.save(update_fields=["status", "updated_at"])
        locked.flush()
        db_transaction.on_commit(lambda: transactions_announce([original, reversal]), robust=True)
    return reversal


# --- sweeper and housekeeping ------------------------------------------------------------------

def transactions_sweep(*, stale_after: timedelta | None = None, limit: int = 5000) -> int:
    """Re-enqueues transactions left PENDING/PROCESSING too long (lost broker message,
    killed worker). Settlement is idempotent, so a message that was only slow is harmless.
    Stale PENDING ones need a single message (it drains them all); a PROCESSING one is only
    taken up by a message naming it, so each gets its own."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.SWEEPER_STALE_AFTER_SECONDS)
    cutoff = timezone.now() - stale_after
    stale = list(Transaction.objects.filter(status__in=Transaction.SETTLEABLE, updated_at__lte=cutoff)
                 .order_by("created_at").values_list("id", "status")[:limit])
    if stale:
        logger.info("sweeper re-enqueues %d transaction(s)", len(stale))
        Transaction.objects.filter(pk__in=[pk for pk, _ in stale],
                                   status__in=Transaction.SETTLEABLE).update(updated_at=timezone.now())
        pending = [pk for pk, status in stale if status == Transaction.Status.PENDING]
        processing = [pk for pk, status in stale if status != Transaction.Status.PENDING]
        for transaction_id in ([pending[0]] if pending else []) + processing:
            if not _settlement_message_publish(transaction_id):
                break
        transactions_swept.send_robust(sender=Transaction, count=len(stale))
    return len(stale)


def idempotency_keys_prune(*, older_than: timedelta | None = None) -> int:
    if older_than is None:
        older_than = timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
