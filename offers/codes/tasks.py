"""Thin tasks: ids in, one service call. acks_late: generation is idempotent (it only ever
adds what is missing, under the pool lock), so a redelivered message is harmless."""
from celery import shared_task

from kernel.tasks import DATABASE_RETRY_POLICY


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def code_pool_generate_task(pool_id: str) -> int:
    from offers.codes.services import CODE_GENERATION_RUN_SECONDS, code_pool_generate

    pool = code_pool_generate(pool_id=int(pool_id), max_seconds=CODE_GENERATION_RUN_SECONDS)
    return pool.generated_count if pool is not None else 0


@shared_task(acks_late=True)
def code_pools_generation_resume_task() -> int:
    from offers.codes.services import code_pools_generation_resume

    return code_pools_generation_resume()
