import factory

from notifications.models import Notification


class EmailNotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    channel = Notification.Channel.EMAIL
    kind = Notification.Kind.ACTIVATION_SUCCEEDED
    subject = "Your Offer is active"
    body = "Hello,\n\nyour subscription is active.\n"
    body_html = "<p>Hello,</p><p>your subscription is active.</p>"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}:email")


class InAppNotificationFactory(EmailNotificationFactory):
    channel = Notification.Channel.IN_APP
    status = Notification.Status.SENT
    body_html = ""
    dedupe_key = factory.Sequence(lambda n: f"test:{n}:in_app")
