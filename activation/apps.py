from django.apps import AppConfig


class ActivationConfig(AppConfig):
    name = "activation"
    verbose_name = "Transaction engine"

    def ready(self) -> None:
        from activation.errors import EngineFailure
        from kernel.errors import failure_codes_register

        failure_codes_register(EngineFailure)
