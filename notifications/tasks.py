"""Thin tasks on the notifications queue: ids in, one service call. acks_late: every
service here is idempotent (dedupe keys, conditional claims)."""
from celery import shared_task

from kernel.tasks import DATABASE_RETRY_POLICY


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def notification_deliver_task(notification_id: str) -> str:
    """One attempt; an SMTP error worth retrying schedules the next one with backoff + jitter."""
    from notifications.services import email_outbox

    return email_outbox.run(int(notification_id))


@shared_task(acks_late=True)
def subscription_reminders_send_task() -> int:
    from notifications.events import subscription_reminders_send

    return subscription_reminders_send()


@shared_task(acks_late=True)
def subscriptions_expired_notify_task() -> int:
    from notifications.events import subscriptions_expired_notify

    return subscriptions_expired_notify()


@shared_task(acks_late=True)
def notifications_sweep_task(stale_after_seconds: int | None = None) -> int:
    """Beat's sweep (DELIVERY_SWEEP_OVERDUE_SECONDS), and a reconnected worker's (seconds)."""
    from notifications.services import notifications_sweep

    return notifications_sweep(**({} if stale_after_seconds is None else {"stale_after_seconds": stale_after_seconds}))
