"""Thin tasks: ids in, one service call. acks_late: generation is idempotent (it only ever
adds what is missing, under the pool lock), so a redelivered message is harmless."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

_RETRY = dict(autoretry_for=(OperationalError, InterfaceError), retry_backoff=1, retry_backoff_max=60,
              retry_jitter=True, max_retries=10)


@shared_task(acks_late=True, **_RETRY)
def code_pool_generate_task(pool_id: str) -> int:
    from offers.codes.services import CODE_GENERATION_RUN_SECONDS, code_pool_generate

    pool = code_pool_generate(pool_id=int(pool_id), max_seconds=CODE_GENERATION_RUN_SECONDS)
    return pool.generated_count if pool is not None else 0


@shared_task(acks_late=True)
def code_pools_generation_resume_task() -> int:
    from offers.codes.services import code_pools_generation_resume

    return code_pools_generation_resume()
