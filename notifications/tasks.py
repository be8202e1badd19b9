"""Thin tasks on the notifications queue: ids in, one service call. acks_late: every
service here is idempotent (dedupe keys, conditional claims)."""
from celery import shared_task
from redis import RedisError

from kernel.tasks import DATABASE_RETRY_POLICY


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def notification_deliver_task(notification_id: str) -> str:
    """One attempt; an SMTP error worth retrying schedules the next one with backoff + jitter."""
    from notifications.services import email_outbox

    return email_outbox.run(int(notification_id))


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def transactions_notify_task(transaction_ids: list[str]) -> int:
    """The ids of finished transactions in a message of their own: what settlement sends when
    the queue (notifications.finished_queue) is unavailable. Each notification has its own
    dedupe key, so a retry of the whole list after a partial failure sends nothing twice."""
    from notifications.events import transactions_notify

    return transactions_notify(transaction_ids=transaction_ids)


@shared_task(bind=True, acks_late=True,
             **{**DATABASE_RETRY_POLICY, "autoretry_for": (*DATABASE_RETRY_POLICY["autoretry_for"], RedisError)})
def finished_transactions_notify_task(self) -> int:
    """Drains the queue of finished transactions (notifications.finished_queue). The message
    id names what this drain has taken, so a redelivered message finishes its own batch."""
    from notifications.finished_queue import finished_transactions_queue_drain

    return finished_transactions_queue_drain(drain_id=self.request.id)


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def flash_reservation_completed_notify_task(reservation_id: str) -> int:
    from notifications.events import flash_reservation_completed_notify

    return flash_reservation_completed_notify(reservation_id=int(reservation_id))


@shared_task(acks_late=True)
def subscription_reminders_send_task() -> int:
    from notifications.events import subscription_reminders_send

    return subscription_reminders_send()


@shared_task(acks_late=True)
def subscriptions_expired_notify_task() -> int:
    from notifications.events import subscriptions_expired_notify

    return subscriptions_expired_notify()


@shared_task(acks_late=True)
def notifications_sweep_task() -> int:
    from notifications.finished_queue import finished_transactions_queue_sweep
    from notifications.services import notifications_sweep

    finished_transactions_queue_sweep()
    return notifications_sweep()
