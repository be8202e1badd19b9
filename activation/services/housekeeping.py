"""Beat jobs: the sweeper that sends again what a fault left behind (unfinished transactions,
undrained outbox rows), and pruning old idempotency keys (never the retained ones)."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction as db_transaction
from django.utils import timezone

from activation.models import IdempotencyKey, Transaction
from activation.registry import transactions_swept
from activation.services.dispatch import settlement_message_publish
from activation.services.outbox import finished_outbox_sweep

logger = logging.getLogger(__name__)


def transactions_sweep(*, stale_after: timedelta | None = None, limit: int = 5000) -> int:
    """Sends again what a fault left behind (lost broker message, killed worker, broker or
    database outage); beat runs it every SWEEPER_INTERVAL_SECONDS and every worker runs it
    when it (re)connects to the broker (config.celery). Each message is idempotent, so one
    that was only slow costs nothing but a no-op.

    - PENDING rows unchanged for `stale_after`: one settlement message (it drains them all),
      whether or not one is thought to be on its way.
    - PROCESSING rows unchanged for `stale_after` that no settlement holds locked (their
      worker died, and its locks went with its connection): a message naming each, as only
      such a message takes a claimed row up again. Not marked as sent: while no worker is
      alive each sweep sends them again (each duplicate finds the row settled and is a no-op),
      so whichever message a live worker gets first takes them up.
    - outbox rows waiting for `stale_after`: a drain message.
    Returns how many transactions it sent again."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.SWEEPER_STALE_AFTER_SECONDS)
    cutoff = timezone.now() - stale_after
    pending = list(Transaction.objects.filter(status=Transaction.Status.PENDING, updated_at__lte=cutoff)
                   .order_by("created_at").values_list("id", flat=True)[:limit])
    with db_transaction.atomic():
        orphaned = list(Transaction.objects.select_for_update(skip_locked=True, no_key=True)
                        .filter(status=Transaction.Status.PROCESSING, updated_at__lte=cutoff)
                        .order_by("created_at").values_list("id", flat=True)[:limit])
    if pending or orphaned:
        logger.info("sweeper: %d pending, %d orphaned in processing; sending them again", len(pending), len(orphaned))
        for transaction_id in pending[:1] + orphaned:
            if not settlement_message_publish(transaction_id):
                break
        transactions_swept.send_robust(sender=Transaction, count=len(pending) + len(orphaned))
    finished_outbox_sweep(stale_after=stale_after)
    return len(pending) + len(orphaned)


def idempotency_keys_prune(*, older_than: timedelta | None = None) -> int:
    """Deletes the keys older than the retention period, except the retained ones (their
    caller needs the key unique for ever)."""
    if older_than is None:
        older_than = timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than, retained=False).delete()
    return deleted
