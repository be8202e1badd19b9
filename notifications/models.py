from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Notification(models.Model):
    """One message to one customer on one channel. `dedupe_key` is unique, so a redelivered
    task, a second settlement or a beat re-run can never create (and so never send) it twice."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        IN_APP = "in_app"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    class Kind(models.TextChoices):
        ACTIVATION_SUCCEEDED = "activation_succeeded"
        ACTIVATION_FAILED = "activation_failed"
        RENEWAL_SUCCEEDED = "renewal_succeeded"
        RENEWAL_FAILED = "renewal_failed"
        REDEMPTION_SUCCEEDED = "redemption_succeeded"
        CODE_CLAIMED = "code_claimed"
        FLASH_RESERVATION_HELD = "flash_reservation_held"
        FLASH_RESERVATION_COMPLETED = "flash_reservation_completed"
        FLASH_PROMO_STARTED = "flash_promo_started"
        SUBSCRIPTION_EXPIRING = "subscription_expiring"
        SUBSCRIPTION_EXPIRED = "subscription_expired"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    body_html = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="The facts the message was rendered from.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True, help_text="A worker is sending it until then.")
    read_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    # The X-Request-ID of the request whose transaction this tells about ("" for beat's and fan-outs').
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "channel", "-created_at"], name="notification_inbox"),
            models.Index(fields=["next_attempt_at"], name="notification_due",
                         condition=Q(status="queued", channel="email")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.user_id} ({self.channel}, {self.status})"
