"""Thin tasks on the callbacks queue: take ids, call one service."""
from celery import shared_task

from kernel.tasks import DATABASE_RETRY_POLICY


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def partner_callback_deliver_task(delivery_id: str) -> str:
    """One attempt; a retryable failure schedules the next attempt with backoff + jitter."""
    from uuid import UUID

    from partners.services import callback_outbox

    return callback_outbox.run(UUID(delivery_id))


@shared_task(acks_late=True)
def partner_callbacks_sweep_task(overdue_after_seconds: float | None = None) -> int:
    """Beat's sweep (DELIVERY_SWEEP_OVERDUE_SECONDS), and a reconnected worker's (seconds)."""
    from datetime import timedelta

    from partners.services import partner_callbacks_sweep

    return partner_callbacks_sweep(**({} if overdue_after_seconds is None
                                      else {"overdue_after": timedelta(seconds=overdue_after_seconds)}))
