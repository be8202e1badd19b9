from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        """Monitoring connects itself to the platform's hooks; nothing imports it (but config)."""
        from django.conf import settings

        from activation.registry import SETTLERS
        from monitoring import metrics, receivers

        receivers.receivers_connect()
        metrics.labels_initialise(kinds=sorted(SETTLERS),
                                  throttle_scopes=sorted(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]))
