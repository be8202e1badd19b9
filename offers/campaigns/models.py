"""Discount campaigns and their redemptions."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Segment
from accounts.money import SUPPORTED_CURRENCIES
from kernel.history import ConfigHistory

__all__ = ["Campaign", "CampaignRedemption"]


class Campaign(models.Model):
    class Target(models.TextChoices):
        CART = "cart"
        DELIVERY = "delivery"

    class Kind(models.TextChoices):
        PERCENTAGE = "percentage"
        FLAT = "flat"

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ENDED = "ended"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    target = models.CharField(max_length=10, choices=Target.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2, help_text="Percent (0-100] or a flat amount.")
    max_discount_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    min_cart_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    # Calendar days in the campaign's time zone, both inclusive: a campaign ending "today"
    # runs until local midnight.
    starts_on = models.DateField()
    ends_on = models.DateField()
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone of the campaign's days.")
    currency = models.CharField(max_length=3, choices=[(c, c) for c in SUPPORTED_CURRENCIES],
                                default=settings.DEFAULT_CURRENCY)
    total_budget = models.DecimalField(max_digits=12, decimal_places=2)
    spent_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    max_uses_per_customer_per_day = models.PositiveIntegerField(null=True, blank=True)
    max_total_uses = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0)
    is_targeted = models.BooleanField(default=False)
    target_customers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="targeted_campaigns")
    target_segments = models.ManyToManyField(Segment, blank=True, related_name="campaigns")
    priority = models.IntegerField(default=0, help_text="Higher first when discounts tie.")
    is_stackable = models.BooleanField(default=False, help_text="Stackable campaigns add up; at most one exclusive.")
    requires_code = models.BooleanField(default=False, help_text="Applies only with a discount code of a pool that "
                                                                 "carries it (codes at checkout).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The brand that runs it (its members manage it); none: a platform campaign (staff only).
    brand = models.ForeignKey("offers.Brand", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="campaigns")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Settlement and reversal write spent_amount / uses_count only: no history row for them;
    # target_customers (possibly many) is not snapshotted, target_segments is.
    history = ConfigHistory(untracked_fields=("spent_amount", "uses_count"), m2m_fields=["target_segments"])

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="campaign_value_positive"),
            models.CheckConstraint(condition=Q(total_budget__gt=0), name="campaign_budget_positive"),
            models.CheckConstraint(condition=Q(spent_amount__gte=0) & Q(spent_amount__lte=F("total_budget")),
                                   name="campaign_spent_within_budget"),
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="campaign_ends_after_start"),
            models.CheckConstraint(condition=~Q(kind="percentage") | Q(value__lte=100),
                                   name="campaign_percentage_at_most_100"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def budget_remaining(self) -> Decimal:
        return self.total_budget - self.spent_amount


class CampaignRedemption(models.Model):
    """One discount granted, inside a customer's order (`order_reference`, unique per customer).
    A combined redemption writes one row per campaign under one transaction. `local_day` is
    the day in the campaign's time zone, for the per-customer daily limit. A reversal stamps
    `reversed_at`; the row then no longer counts, except towards the daily limit when the
    customer reversed it themselves (`reversal_keeps_daily_use`)."""

    # No index of its own on `campaign`, `user` or `transaction`: redemption_daily_usage,
    # redemption_campaign_once_per_order and redemption_once_per_transaction lead with them
    # (fewer indexes to write per redemption on a hot campaign).
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="redemptions", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="redemptions",
                             db_index=False)
    transaction = models.ForeignKey("activation.Transaction", on_delete=models.PROTECT, related_name="redemptions",
                                    db_index=False)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    base_value = models.DecimalField(max_digits=12, decimal_places=2, help_text="The cart value or delivery charge.")
    # The order's cart as this redemption saw it: every redemption of one order states the same.
    cart_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    delivery_charge = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default=settings.DEFAULT_CURRENCY)
    order_reference = models.CharField(max_length=100)
    local_day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_keeps_daily_use = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["campaign", "user", "local_day"], name="redemption_daily_usage")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="redemption_amount_positive"),
            models.UniqueConstraint(fields=["transaction", "campaign"], name="redemption_once_per_transaction"),
            # Within one order a campaign applies at most once (live rows only).
            models.UniqueConstraint(fields=["user", "order_reference", "campaign"], condition=Q(reversed_at=None),
                                    name="redemption_campaign_once_per_order"),
        ]
