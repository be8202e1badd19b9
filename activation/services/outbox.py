"""The settlement outbox: the side effects of every outcome, owed in PostgreSQL.

    settlement (FINISH)  -> one outbox row per finished transaction, in the outcome's statement
    after that commit    -> finished_statuses_publish_and_drain_ensure(): the statuses to Redis and
                            a drain message on its way in one Redis command (at most
                            one queued, delayed by NOTIFY_DRAIN_DELAY_MS so under load one
                            message carries every batch settled in that window)
    notifications worker -> finished_outbox_drain(): takes a batch of rows (DELETE ... SKIP
                            LOCKED), sends `transactions_finished_durable` to the receivers in
                            the same database transaction, commits, repairs the statuses in
                            Redis; batch after batch until the outbox is empty
    beat / worker start  -> finished_outbox_sweep(): a drain message when rows wait too long

Nothing rides on Redis or on a message alone: a drain that dies rolls its batch back, a lost
message leaves the rows for the sweep, and receivers are idempotent (dedupe keys), so a
batch handed over twice tells nobody twice."""
from __future__ import annotations

import copy
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction as db_transaction
from django.utils import timezone

from activation import sql
from activation.models import FinishedOutbox, Transaction
from activation.registry import transactions_finished_durable
from activation.selectors import transaction_status_payload
from activation.status import statuses_publish_and_flag_set, statuses_repair
from kernel.coalesce import CoalescingFlag
from kernel.tasks import task_publish

logger = logging.getLogger(__name__)

DRAIN_TASK = "activation.tasks.finished_outbox_drain_task"
DRAIN_WANTED = CoalescingFlag("outbox:drain-wanted", ttl_ms=lambda: settings.NOTIFY_DRAIN_WANTED_TTL_MS)


def finished_statuses_publish_and_drain_ensure(payloads: list[dict]) -> bool:
    """After a settlement commit: the finished transactions' statuses to Redis (what their
    clients wait for, first) and the drain flag raised, in one command; then, if this call
    raised the flag (or Redis could not say), the drain message. True if it published one."""
    if not statuses_publish_and_flag_set(payloads, flag_key=DRAIN_WANTED.key, flag_ttl_ms=DRAIN_WANTED.ttl_ms):
        return False
    if task_publish(DRAIN_TASK, countdown=settings.NOTIFY_DRAIN_DELAY_MS / 1000):
        return True
    DRAIN_WANTED.clear()  # the next settlement tries again; the sweep covers an idle system
    return False


def finished_outbox_drain(*, batch_size: int | None = None, max_seconds: float | None = None) -> int:
    """What one drain message does: hands outbox rows to the receivers, a batch per database
    transaction, until none is left (or `max_seconds` are spent: then another message is
    published). Returns how many outcomes it handed over."""
    DRAIN_WANTED.clear()  # before looking: rows committed from now on raise it again
    batch_size = batch_size or settings.NOTIFY_DRAIN_BATCH_SIZE
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else settings.SETTLEMENT_DRAIN_SECONDS)
    handed = 0
    while True:
        with db_transaction.atomic():
            finished = _outbox_batch_take(limit=batch_size)
            if finished:
                transactions_finished_durable.send(sender=Transaction, transactions=finished)
        if not finished:
            return handed
        statuses_repair(transaction_status_payload(txn) for txn in finished)
        handed += len(finished)
        if len(finished) < batch_size:
            return handed
        if time.monotonic() >= deadline:
            task_publish(DRAIN_TASK)
            return handed


def _outbox_batch_take(*, limit: int) -> list[Transaction]:
    """Deletes a batch of outbox rows (in the caller's transaction) and returns each
    transaction as it finished: the row's current columns with the status the outbox
    recorded (a transaction reversed since is handed over as it succeeded, then reversed)."""
    events = sql.outbox_take(limit=limit)
    if not events:
        return []
    rows = Transaction.objects.in_bulk([transaction_id for transaction_id, _ in events])
    finished = []
    for transaction_id, status in events:
        row = rows.get(transaction_id)
        if row is None:
            continue
        txn = copy.copy(row)  # one instance per event: a transaction can finish twice (then reversed)
        txn.status = status
        finished.append(txn)
    return finished


def finished_outbox_sweep(*, stale_after: timedelta) -> bool:
    """Publishes a drain message when the oldest outbox row waited longer than `stale_after`
    (its message was lost, or the broker refused it). A spare drain finds nothing to do."""
    oldest = FinishedOutbox.objects.order_by("id").values_list("created_at", flat=True).first()
    if oldest is None or oldest > timezone.now() - stale_after:
        return False
    logger.info("outbox sweep: outcomes waiting since %s, a drain is sent", oldest.isoformat())
    return task_publish(DRAIN_TASK)
