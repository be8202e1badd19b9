"""One delivery loop for every outbox (partner callbacks, emails).

A row waits in its table until it is delivered. Delivering one row: claim it (a lease, so
a duplicate message sends nothing), attempt with no transaction or lock open, record the
attempt (delivered, due again after an exponential backoff, or failed). The task that
delivers a row sends itself again when a retry is due; a beat sweeper sends the rows whose
message was lost (broker down, worker killed). An outbox says how its rows are claimed,
attempted, recorded and found due; the loop around them is written here once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone

from kernel.backoff import exponential_backoff_seconds
from kernel.tasks import task_publish

Row = TypeVar("Row", bound=Model)


@dataclass(frozen=True)
class Delivery(Generic[Row]):
    """A row after one delivery step; `retry_in`: seconds until it is due again, when it is."""

    row: Row
    retry_in: float | None = None


@dataclass(frozen=True)
class Claim(Generic[Row]):
    row: Row
    claimed: bool  # True: this worker holds the lease and attempts now
    retry_in: float | None = None  # not claimed because early: due again in this many seconds


class Outbox(Generic[Row]):
    """Subclasses set the model, the registered name of the task that delivers one row by
    id, and the settings holding the backoff base and cap; and implement the four steps."""

    model: type[Row]
    task_name: str
    backoff_base_setting: str
    backoff_cap_setting: str

    def claim(self, pk: Any) -> Claim[Row]:
        """Takes the lease on a pending, due row (Model.DoesNotExist when it is gone)."""
        raise NotImplementedError

    def attempt(self, row: Row) -> Any:
        """Sends once, with no transaction or lock open; returns what `record` needs."""
        raise NotImplementedError

    def record(self, row: Row, attempt: Any) -> Delivery[Row]:
        """Writes the attempt: delivered, due again (`retry_in`) or failed; frees the lease."""
        raise NotImplementedError

    def due(self, *, now: datetime, before: datetime) -> QuerySet:
        """Pending rows whose next attempt was due before `before` (the sweeper's view)."""
        raise NotImplementedError

    # --- the loop -----------------------------------------------------------------------------

    def deliver(self, pk: Any) -> Delivery[Row]:
        """One delivery step; a row not claimed (done, leased elsewhere, early) is not sent."""
        claim = self.claim(pk)
        if not claim.claimed:
            return Delivery(row=claim.row, retry_in=claim.retry_in)
        return self.record(claim.row, self.attempt(claim.row))

    def run(self, pk: Any) -> str:
        """The delivery task's body: one step, then the next message when a retry is due."""
        try:
            delivery = self.deliver(pk)
        except self.model.DoesNotExist:  # a stale message (e.g. the row never committed)
            return "missing"
        if delivery.retry_in is not None:
            self.enqueue(delivery.row.pk, countdown=delivery.retry_in)
        return delivery.row.status

    def enqueue(self, pk: Any, *, countdown: float = 0) -> bool:
        """False when the broker refused (logged): the sweeper sends it later."""
        return task_publish(self.task_name, args=[str(pk)], countdown=countdown)

    def backoff_seconds(self, *, attempts: int) -> float:
        return exponential_backoff_seconds(attempts=attempts, base=getattr(settings, self.backoff_base_setting),
                                           cap=getattr(settings, self.backoff_cap_setting))

    def sweep(self, *, overdue_after: timedelta, limit: int) -> int:
        """Sends again the rows due for longer than `overdue_after`. A duplicate message is
        harmless: delivery claims a lease first."""
        now = timezone.now()
        due = list(self.due(now=now, before=now - overdue_after).order_by("next_attempt_at")
                   .values_list("pk", flat=True)[:limit])
        for pk in due:
            self.enqueue(pk)
        return len(due)
