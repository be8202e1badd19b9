import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kernel.request_id import MAX_LENGTH as REQUEST_ID_MAX_LENGTH, request_id_current


class Transaction(models.Model):
    """One request that moves money, budget, stock or quota. Created PENDING by the API,
    settled by a worker; PostgreSQL is the source of truth for its status."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        PROCESSING = "PROCESSING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"
        REVERSED = "REVERSED"

    SETTLEABLE = frozenset({Status.PENDING, Status.PROCESSING})
    TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REVERSED})
    ALLOWED_TRANSITIONS = {
        Status.PENDING: {Status.PROCESSING, Status.SUCCEEDED, Status.FAILED},
        Status.PROCESSING: {Status.PROCESSING, Status.SUCCEEDED, Status.FAILED},
        Status.SUCCEEDED: {Status.REVERSED},
        Status.FAILED: set(),
        Status.REVERSED: set(),
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every index on this table is paid twice per transaction on the hot path (the claim and
    # the finish change `status`, so neither update is HOT). Hence no index on `kind` (the
    # admin's filter by kind scans) and none of its own on `user`: txn_user_recent leads
    # with user_id and serves every lookup by user, including PROTECT's check.
    kind = models.CharField(max_length=40)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transactions",
                             db_index=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="The validated request.")
    idempotency_key = models.CharField(max_length=255, blank=True)
    # The X-Request-ID of the request that created it (any transaction created while serving
    # one), so its settlement, notifications and callbacks can name it. Not indexed: an index
    # here is paid on every accept; search the logs by it, then look the row up by id.
    request_id = models.CharField(max_length=REQUEST_ID_MAX_LENGTH, blank=True, default=request_id_current)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    result = models.JSONField(default=dict, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversal")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="txn_user_recent"),
            # The claim query and the sweeper only ever look at unfinished rows.
            models.Index(fields=["status", "created_at"], name="txn_unsettled",
                         condition=Q(status__in=["PENDING", "PROCESSING"])),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} {self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class IdempotencyKey(models.Model):
    """Stripe-style idempotency: (scope, key) maps to the transaction it created and the
    fingerprint of the request body that created it. Pruned after the retention period,
    unless the caller asked for it to be retained (a key that must stay unique for ever)."""

    scope = models.CharField(max_length=64, help_text="user:<id>, or the scope the caller names")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="idempotency_keys")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    retained = models.BooleanField(default=False, help_text="Never pruned: the key stays unique for ever.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique_per_scope")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class FinishedOutbox(models.Model):
    """The transactional outbox of settlement: one row per transaction that reached a terminal
    status, written by the statement that writes the outcome (so it commits or rolls back
    with it) and deleted by the drain that hands the outcome to its receivers (notifications,
    partner callbacks) in the same database transaction as their own records. A row here is
    an outcome whose side effects are still owed; PostgreSQL alone remembers it."""

    id = models.BigAutoField(primary_key=True)
    transaction_id = models.UUIDField()
    status = models.CharField(max_length=12, help_text="The status the transaction reached (the event).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "activation_finished_outbox"

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.status}"
