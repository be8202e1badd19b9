from django.apps import AppConfig


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
    from kernel.tasks import task_publish

    task_publish("notifications.tasks.flash_reservation_completed_notify_task", args=[str(reservation_id)])
