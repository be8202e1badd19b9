from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from accounts.money import SUPPORTED_CURRENCIES
from kernel.history import ConfigHistory



class User(AbstractUser):
    email = models.EmailField(unique=True, null=True, blank=True)
    # Who changed what of a user; a login (last_login alone) writes no row, a hash is never copied.
    history = ConfigHistory(untracked_fields=("last_login",), excluded_fields=["password"])

    class Meta:
        db_table = "accounts_user"


class Segment(models.Model):
    """A customer segment used by targeting (campaigns, flash promos)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class CustomerProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    phone = models.CharField(max_length=20, unique=True, null=True, blank=True)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="profiles")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone name.")
    email_opt_out = models.BooleanField(default=False)
    history = ConfigHistory()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(latitude__gte=-90) & Q(latitude__lte=90) | Q(latitude__isnull=True),
                                   name="profile_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180) & Q(longitude__lte=180) | Q(longitude__isnull=True),
                                   name="profile_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user}"


class Account(models.Model):
    """A customer's money. `balance` changes only through `accounts.services`, which write
    one LedgerEntry per change, so balance == sum(ledger amounts) always."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="account")
    currency = models.CharField(max_length=3, choices=[(c, c) for c in SUPPORTED_CURRENCIES],
                                default=settings.DEFAULT_CURRENCY)
    balance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} {self.balance} {self.currency}"


class LedgerEntry(models.Model):
    class Reason(models.TextChoices):
        TOP_UP = "top_up"
        DEBIT = "debit"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Signed: credits > 0, debits < 0.")
    balance_after = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    # The engine's transaction id. A plain UUID, not a foreign key: accounts is the base
    # layer and imports no other app of ours.
    transaction_id = models.UUIDField(null=True, blank=True, db_index=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"])]
        verbose_name_plural = "ledger entries"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero")]

    def __str__(self) -> str:
        return f"{self.amount} on {self.account_id}"


class LocationChange(models.Model):
    """One staff change of a customer's location (flash promos decide by the distance from
    it, so who moved a customer where, and when, is kept). Written only by
    `accounts.services`; never edited."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="location_changes")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    old_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    old_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    new_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    new_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return (f"{self.user}: ({self.old_latitude}, {self.old_longitude}) -> "
                f"({self.new_latitude}, {self.new_longitude}) by {self.changed_by}")
