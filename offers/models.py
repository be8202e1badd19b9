from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.money import SUPPORTED_CURRENCIES, money_fractions


class Offer(models.Model):
    """A subscription offer in the catalogue (Internet, TV, mobile, bundles)."""

    class Category(models.TextChoices):
        INTERNET = "internet"
        TV = "tv"
        MOBILE = "mobile"
        BUNDLE = "bundle"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, db_index=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, choices=[(c, c) for c in SUPPORTED_CURRENCIES],
                                default=settings.DEFAULT_CURRENCY)
    validity_days = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="offer_price_positive"),
            models.CheckConstraint(condition=Q(validity_days__gt=0), name="offer_validity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.price} {self.currency})"

    def clean(self) -> None:
        # Offers are written by the admin only, whose form runs this.
        if self.price is not None and (fractions := money_fractions(self.currency, price=self.price)):
            raise ValidationError(fractions)


class Subscription(models.Model):
    """A customer's subscription to an offer. Changed only by settlement, under the lock of
    the customer's account (which serialises everything that touches their money)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subscriptions")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    auto_renew = models.BooleanField(default=False)
    created_by_transaction = models.ForeignKey("activation.Transaction", null=True, blank=True,
                                               on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "offer"], condition=Q(status="active"),
                                    name="one_active_subscription_per_offer"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.user} -> {self.offer} until {self.expires_at:%Y-%m-%d}"


# Each feature of the catalogue keeps its models in its own module; importing them here
# registers them under the `offers` app.
from offers.campaigns.models import *  # noqa: E402,F401,F403
from offers.codes.models import *  # noqa: E402,F401,F403
from offers.flash.models import *  # noqa: E402,F401,F403
