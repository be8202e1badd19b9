from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from activation.registry import transactions_finished

        transactions_finished.connect(_transactions_finished, dispatch_uid="partners.callbacks")


def _transactions_finished(sender, transactions, **kwargs) -> None:
    from partners.services import partner_callback_schedule

    for transaction in transactions:
        partner_callback_schedule(transaction=transaction)
