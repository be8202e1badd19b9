"""Discount code pools: a brand's pool of unique codes, each handed out at most once."""
from django.conf import settings
from django.db import models
from django.db.models import F, Q

__all__ = ["Brand", "CodePool", "DiscountCode"]


class Brand(models.Model):
    """A brand whose staff members create and manage its code pools."""

    name = models.CharField(max_length=120, unique=True)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="brands")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CodePool(models.Model):
    """`claimed_count` is changed only by claim settlement under the pool's row lock; the
    check constraint makes "never more than total_count" hold in the database too."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    total_count = models.PositiveIntegerField()
    claimed_count = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_count__gt=0), name="code_pool_total_positive"),
            models.CheckConstraint(condition=Q(claimed_count__lte=F("total_count")),
                                   name="code_pool_claimed_within_total"),
            models.CheckConstraint(condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True)
                                   | Q(valid_until__gt=F("valid_from")), name="code_pool_window_ordered"),
        ]

    @property
    def remaining_count(self) -> int:
        return self.total_count - self.claimed_count

    def __str__(self) -> str:
        return f"{self.brand}: {self.name}"


class DiscountCode(models.Model):
    code = models.CharField(max_length=32, unique=True)
    pool = models.ForeignKey(CodePool, on_delete=models.CASCADE, related_name="codes")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="discount_codes")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_transaction_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "claimed_by"], condition=Q(claimed_by__isnull=False),
                                    name="one_code_per_customer_per_pool"),
            models.CheckConstraint(condition=Q(claimed_by__isnull=True, claimed_at__isnull=True)
                                   | Q(claimed_by__isnull=False, claimed_at__isnull=False),
                                   name="discount_code_claim_complete"),
        ]
        indexes = [
            # The next free code of a pool: an index-only walk over the unclaimed rows.
            models.Index(fields=["pool", "id"], condition=Q(claimed_by__isnull=True), name="discount_code_free"),
        ]

    def __str__(self) -> str:
        return self.code
