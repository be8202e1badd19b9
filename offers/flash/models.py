"""Stores, products and flash promotions with timed reservations (holds)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.money import SUPPORTED_CURRENCIES
from kernel.history import ConfigHistory

__all__ = ["Store", "Product", "FlashPromo", "FlashReservation", "FlashPromoNotice"]


class Store(models.Model):
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=255, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    # The brand whose members manage the store, its products and their flash promos; none: staff only.
    brand = models.ForeignKey("offers.Brand", null=True, blank=True, on_delete=models.PROTECT, related_name="stores")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(latitude__gte=-90) & Q(latitude__lte=90), name="store_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180) & Q(longitude__lte=180),
                                   name="store_longitude_range"),
        ]
        indexes = [models.Index(fields=["latitude", "longitude"])]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=120)
    regular_price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, choices=[(c, c) for c in SUPPORTED_CURRENCIES],
                                default=settings.DEFAULT_CURRENCY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(regular_price__gt=0), name="product_price_positive")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.store}"


class FlashPromo(models.Model):
    """A product at a promo price for customers of `segments` within `radius_km` of the
    store, limited to `quantity` units. Units left = quantity - completed - active holds,
    always computed under this row's lock (see offers/flash/settlement.py)."""

    class Status(models.TextChoices):
        ACTIVE = "active"          # runs between starts_at and ends_at
        CANCELLED = "cancelled"    # withdrawn by staff

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="flash_promos")
    promo_price = models.DecimalField(max_digits=12, decimal_places=2)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    segments = models.ManyToManyField("accounts.Segment", related_name="flash_promos")
    radius_km = models.DecimalField(max_digits=8, decimal_places=3)
    quantity = models.PositiveIntegerField()
    hold_seconds = models.PositiveIntegerField(default=60)
    max_units_per_customer = models.PositiveIntegerField(default=1, help_text="Units one customer may hold or buy.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # When the start fan-out ran for the current starts_at (reset when the start moves).
    start_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The start notifier writes start_notified_at only: no history row for it.
    history = ConfigHistory(untracked_fields=("start_notified_at",), m2m_fields=["segments"])

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="flash_promo_quantity_positive"),
            models.CheckConstraint(condition=Q(radius_km__gt=0), name="flash_promo_radius_positive"),
            models.CheckConstraint(condition=Q(hold_seconds__gt=0), name="flash_promo_hold_positive"),
            models.CheckConstraint(condition=Q(max_units_per_customer__gt=0), name="flash_promo_customer_cap_positive"),
            models.CheckConstraint(condition=Q(promo_price__gt=0), name="flash_promo_price_positive"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="flash_promo_window_ordered"),
        ]
        indexes = [models.Index(fields=["status", "starts_at", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.product} at {self.promo_price} ({self.starts_at:%Y-%m-%d %H:%M})"


class FlashReservation(models.Model):
    """One unit held for one customer until `expires_at`; completing buys it at the promo
    price (`purchase_transaction_id`). A unit is taken while held (unexpired) or completed;
    an expired, released (hold reversed) or refunded (purchase reversed) one is free again."""

    class Status(models.TextChoices):
        HELD = "held"
        COMPLETED = "completed"
        EXPIRED = "expired"
        RELEASED = "released"
        REFUNDED = "refunded"

    promo = models.ForeignKey(FlashPromo, on_delete=models.PROTECT, related_name="reservations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="flash_reservations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.UUIDField(unique=True, help_text="The engine transaction that made the hold.")
    # The price the hold showed: completing charges it, whatever the promo says by then.
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    purchase_transaction_id = models.UUIDField(null=True, blank=True, unique=True,
                                               help_text="The engine transaction that paid for the unit.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["promo", "user"], condition=Q(status="held"),
                                    name="one_active_hold_per_customer_per_promo"),
        ]
        indexes = [
            models.Index(fields=["promo", "status", "expires_at"]),
            models.Index(fields=["expires_at"], condition=Q(status="held"), name="flash_hold_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.status} {self.promo_id}"


class FlashPromoNotice(models.Model):
    """"Promo started" for one customer: written by the start fan-out, at most once per
    (promo, customer) by the unique constraint. The notifications issue turns these rows
    into real in-app notifications (and emails); until then they are the inbox."""

    promo = models.ForeignKey(FlashPromo, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="flash_promo_notices")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["promo", "user"], name="one_notice_per_customer_per_promo")]

    def __str__(self) -> str:
        return f"promo {self.promo_id} -> {self.user_id}"


