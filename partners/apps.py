from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from activation.registry import transaction_finished

        transaction_finished.connect(_transaction_finished, dispatch_uid="partners.callbacks")


def _transaction_finished(sender, transaction, **kwargs) -> None:
    from partners.services import partner_callback_schedule

    partner_callback_schedule(transaction=transaction)
