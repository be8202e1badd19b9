"""Thin tasks on the callbacks queue: take ids, call one service."""
from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=1,
             retry_backoff_max=60, retry_jitter=True, max_retries=10)
def partner_callback_deliver_task(delivery_id: str) -> str:
    """One attempt; a retryable failure schedules the next attempt with backoff + jitter."""
    from uuid import UUID

    from partners.models import CallbackDelivery
    from partners.services import callback_deliver, callback_enqueue

    try:
        result = callback_deliver(delivery_id=UUID(delivery_id))
    except CallbackDelivery.DoesNotExist:  # a stale message (e.g. the row never committed)
        return "missing"
    if result.retry_in is not None:
        callback_enqueue(delivery_id=result.delivery.id, countdown=result.retry_in)
    return result.delivery.status


@shared_task(acks_late=True)
def partner_callbacks_sweep_task() -> int:
    from partners.services import partner_callbacks_sweep

    return partner_callbacks_sweep()
