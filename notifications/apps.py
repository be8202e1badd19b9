import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from activation.registry import transaction_finished
        from offers.signals import flash_promo_started, flash_reservation_completed

        transaction_finished.connect(_transaction_finished, dispatch_uid="notifications.transactions")
        flash_promo_started.connect(_flash_promo_started, dispatch_uid="notifications.flash_promo_started")
        flash_reservation_completed.connect(_flash_reservation_completed,
                                            dispatch_uid="notifications.flash_reservation_completed")


def _transaction_finished(sender, transaction, **kwargs) -> None:
    """Sent after commit in the settlement worker: only enqueue, so rendering and sending
    happen on the notifications queue and never slow settlement down."""
    from notifications.tasks import transaction_notify_task

    try:
        transaction_notify_task.delay(str(transaction.id))
    except Exception as exc:
        logger.warning("could not enqueue notification of %s: %r", transaction.id, exc)


def _flash_promo_started(sender, promo_id, user_ids, **kwargs) -> None:
    from notifications.events import flash_promo_started_notify

    flash_promo_started_notify(promo_id=promo_id, user_ids=user_ids)  # already on the notifications queue


def _flash_reservation_completed(sender, reservation_id, **kwargs) -> None:
    from notifications.tasks import flash_reservation_completed_notify_task

    try:
        flash_reservation_completed_notify_task.delay(str(reservation_id))
    except Exception as exc:
        logger.warning("could not enqueue completion notice of reservation %s: %r", reservation_id, exc)
