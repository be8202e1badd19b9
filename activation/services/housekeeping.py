"""Beat jobs: the sweeper that re-enqueues unfinished transactions, and pruning old
idempotency keys (never the retained ones)."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from activation.models import IdempotencyKey, Transaction
from activation.registry import transactions_swept
from activation.services.dispatch import settlement_message_publish

logger = logging.getLogger(__name__)


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
            if not settlement_message_publish(transaction_id):
                break
        transactions_swept.send_robust(sender=Transaction, count=len(stale))
    return len(stale)


def idempotency_keys_prune(*, older_than: timedelta | None = None) -> int:
    """Deletes the keys older than the retention period, except the retained ones (their
    caller needs the key unique for ever)."""
    if older_than is None:
        older_than = timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than, retained=False).delete()
    return deleted
