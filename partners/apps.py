from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from activation.registry import transactions_finished_durable

        transactions_finished_durable.connect(_transactions_finished, dispatch_uid="partners.callbacks")


def _transactions_finished(sender, transactions, **kwargs) -> None:
    """From the settlement outbox's drain, inside its database transaction: the callback
    deliveries commit with the consumption of the outbox rows."""
    from partners.services import partner_callback_schedule

    for transaction in transactions:
        partner_callback_schedule(transaction=transaction)
