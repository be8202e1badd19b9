"""Thin tasks: take ids, call one service. acks_late because the services are idempotent."""
from celery import shared_task

from kernel.tasks import DATABASE_RETRY_POLICY


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def transaction_settle_task(transaction_id: str | None = None) -> int:
    """Settles `transaction_id` first, then drains every pending transaction (messages are
    coalesced: see activation.services.dispatch)."""
    from uuid import UUID

    from activation.services import transactions_settle_pending

    return transactions_settle_pending(transaction_id=UUID(transaction_id) if transaction_id else None)


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def finished_outbox_drain_task() -> int:
    """Hands the settlement outbox to its receivers (activation.services.outbox)."""
    from activation.services import finished_outbox_drain

    return finished_outbox_drain()


@shared_task(acks_late=True)
def transactions_sweep_task(stale_after_seconds: float | None = None) -> int:
    """Beat's sweep (the configured staleness), and a reconnected worker's (seconds)."""
    from datetime import timedelta

    from activation.services import transactions_sweep

    return transactions_sweep(stale_after=timedelta(seconds=stale_after_seconds)
                              if stale_after_seconds is not None else None)


@shared_task(acks_late=True)
def idempotency_keys_prune_task() -> int:
    from activation.services import idempotency_keys_prune

    return idempotency_keys_prune()
