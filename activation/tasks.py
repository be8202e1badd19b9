"""Thin tasks: take ids, call one service. acks_late because the services are idempotent."""
from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=1,
             retry_backoff_max=60, retry_jitter=True, max_retries=10)
def transaction_settle_task(transaction_id: str | None = None) -> int:
    """Settles `transaction_id` first, then drains every pending transaction (messages are
    coalesced: see activation.services.transactions_dispatch)."""
    from uuid import UUID

    from activation.services import transactions_settle_pending

    return transactions_settle_pending(transaction_id=UUID(transaction_id) if transaction_id else None)


@shared_task(acks_late=True)
def transactions_sweep_task() -> int:
    from activation.services import transactions_sweep

    return transactions_sweep()


@shared_task(acks_late=True)
def idempotency_keys_prune_task() -> int:
    from activation.services import idempotency_keys_prune

    return idempotency_keys_prune()


@shared_task(ignore_result=True)
def settlement_ping_task(reply_key: str) -> None:
    """A no-op on the settlement queue that answers by LPUSHing to `reply_key` in the status
    store: the benchmark times the broker round trip with it (there is no result backend)."""
    from kernel.redis_store import redis_store

    pipe = redis_store().pipeline(transaction=False)
    pipe.lpush(reply_key, "1")
    pipe.expire(reply_key, 60)
    pipe.execute()
