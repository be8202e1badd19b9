import re
import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from kernel.history import ConfigHistory

# A partner's own reference for an activation (its idempotency key).
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
# What DRF's throttles parse (SimpleRateThrottle.parse_rate reads the period's first letter),
# with at least 1 request: "0/min" would not throttle at all.
throttle_rate_validator = RegexValidator(
    r"^[1-9][0-9]{0,8}/(s|sec|second|m|min|minute|h|hour|d|day)$",
    message='A number of requests from 1, "/", and s, min, hour or day: "600/min".')


class Partner(models.Model):
    """A partner system that signs its requests with HMAC-SHA256. The secret is needed to
    verify signatures, so it is stored encrypted (Fernet, key derived from
    PARTNER_SECRET_ENCRYPTION_KEY), never in clear; `partners.signing` reads it."""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    key_id = models.CharField(max_length=40, unique=True, help_text="Public key id sent as X-Partner-Key.")
    secret_encrypted = models.TextField(editable=False)
    callback_url = models.URLField(max_length=500, blank=True,
                                   help_text="Default URL for transaction events; a request may override it.")
    throttle_rate = models.CharField(max_length=20, blank=True, validators=[throttle_rate_validator],
                                     help_text='e.g. "600/min"; empty = PARTNER_DEFAULT_THROTTLE_RATE.')
    credentials_rotated_at = models.DateTimeField(default=timezone.now)
    # The credentials a rotation replaced keep working until previous_key_valid_until
    # (partners.services.partner_credentials_rotate sets it; authentication reads it).
    previous_key_id = models.CharField(max_length=40, blank=True, default="", db_index=True)
    previous_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    previous_key_valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Secrets, even encrypted, are never copied into the history.
    history = ConfigHistory(excluded_fields=["secret_encrypted", "previous_secret_encrypted"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # DRF treats the authenticated principal as request.user: a partner is authenticated.
    is_authenticated = True
    is_anonymous = False


class PartnerCustomerLink(models.Model):
    """A customer a partner may act for. Made by platform staff (admin inline or
    `partner_customer_link`); a partner activates only for its linked customers."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="customer_links")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_links")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "customer"], name="partner_customer_unique")]
        verbose_name = "linked customer"

    def __str__(self) -> str:
        return f"{self.partner} → {self.customer}"


class PartnerActivation(models.Model):
    """A partner's external reference for a transaction: the record validate/, reverse/ and
    callbacks read. The reference is also the engine's retained idempotency key (scope
    partner:<id>), which replays or refuses a reused one; the unique constraint is the backstop."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="activations")
    reference = models.CharField(max_length=64)
    transaction = models.OneToOneField("activation.Transaction", on_delete=models.PROTECT,
                                       related_name="partner_activation")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    customer_identifier = models.CharField(max_length=254, help_text="The phone or email the partner sent.")
    offer = models.ForeignKey("offers.Offer", on_delete=models.PROTECT, related_name="+")
    callback_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "reference"], name="partner_reference_unique")]

    def __str__(self) -> str:
        return f"{self.partner}:{self.reference}"

    @property
    def is_valid(self) -> bool:
        """What a partner's validation and callbacks report: the activation took effect."""
        return self.transaction.status == self.transaction.Status.SUCCEEDED


class CallbackDelivery(models.Model):
    """One event to deliver to a partner, at most once per transaction and event type. Its
    id is the event id the partner uses to drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="callbacks")
    transaction = models.ForeignKey("activation.Transaction", on_delete=models.PROTECT, related_name="+")
    event_type = models.CharField(max_length=40)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    # The X-Request-ID of the request behind the transaction; sent as that header with every attempt.
    request_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    retry_until = models.DateTimeField(help_text="No retry is scheduled after this (PARTNER_CALLBACK_RETRY_WINDOW_SECONDS).")
    # A lease so that a duplicate task message does not post the same event concurrently.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["transaction", "event_type"],
                                               name="callback_once_per_transaction_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="callback_due")]
        verbose_name_plural = "callback deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} {self.id} {self.status}"


class CallbackAttempt(models.Model):
    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at:%H:%M:%S} {self.status_code or self.error}"
