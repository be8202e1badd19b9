"""Tasks only the benchmark sends; its settlement workers load them with `--include bench.tasks`."""
from celery import shared_task


@shared_task(ignore_result=True)
def settlement_ping_task(reply_key: str) -> None:
    """A no-op on the settlement queue that answers by LPUSHing to `reply_key` in the status
    store: the benchmark times the broker round trip with it (there is no result backend)."""
    from kernel.redis_store import redis_store

    pipe = redis_store().pipeline(transaction=False)
    pipe.lpush(reply_key, "1")
    pipe.expire(reply_key, 60)
    pipe.execute()
