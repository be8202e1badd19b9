from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from activation.registry import transactions_finished_durable
        from offers.signals import flash_promo_started

        transactions_finished_durable.connect(_transactions_finished, dispatch_uid="notifications.transactions")
        flash_promo_started.connect(_flash_promo_started, dispatch_uid="notifications.flash_promo_started")


def _transactions_finished(sender, transactions, **kwargs) -> None:
    """From the settlement outbox's drain, on the notifications queue, inside the database
    transaction that consumes the outbox rows: the notifications commit with it."""
    from notifications.events import transactions_notify

    transactions_notify(transactions=transactions)


def _flash_promo_started(sender, promo_id, user_ids, **kwargs) -> None:
    from notifications.events import flash_promo_started_notify

    flash_promo_started_notify(promo_id=promo_id, user_ids=user_ids)  # already on the notifications queue
