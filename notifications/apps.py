import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from activation.registry import transactions_finished
        from offers.signals import flash_promo_started, flash_reservation_completed

        transactions_finished.connect(_transactions_finished, dispatch_uid="notifications.transactions")
        flash_promo_started.connect(_flash_promo_started, dispatch_uid="notifications.flash_promo_started")
        flash_reservation_completed.connect(_flash_reservation_completed,
                                            dispatch_uid="notifications.flash_reservation_completed")


def _transactions_finished(sender, transactions, **kwargs) -> None:
    """Sent after commit in the settlement worker, once per batch: only queue the ids (one
    Redis call; notifications.finished_queue), so rendering and sending happen on the
    notifications queue and never slow settlement down."""
    from notifications.finished_queue import finished_transactions_queue_push

    finished_transactions_queue_push(t.id for t in transactions)


def _flash_promo_started(sender, promo_id, user_ids, **kwargs) -> None:
    from notifications.events import flash_promo_started_notify

    flash_promo_started_notify(promo_id=promo_id, user_ids=user_ids)  # already on the notifications queue


def _flash_reservation_completed(sender, reservation_id, **kwargs) -> None:
    from notifications.tasks import flash_reservation_completed_notify_task

    try:
        flash_reservation_completed_notify_task.delay(str(reservation_id))
    except Exception as exc:
        logger.warning("could not enqueue completion notice of reservation %s: %r", reservation_id, exc)
