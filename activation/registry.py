"""How domain apps plug into the engine without the engine importing them.

A *settler* is registered per transaction kind (from the domain app's AppConfig.ready).
The engine asks it which rows to lock, locks them all in one fixed global order, then asks
it to settle the transaction against the locked rows and return an Outcome.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Protocol

from django.db import models
from django.dispatch import Signal

@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    failure_code: str = ""
    failure_message: str = ""
    result: dict[str, Any] = dc_field(default_factory=dict)

    @classmethod
    def success(cls, result: dict[str, Any] | None = None) -> "Outcome":
        return cls(succeeded=True, result=result or {})

    @classmethod
    def failure(cls, code: str, message: str = "", result: dict[str, Any] | None = None) -> "Outcome":
        return cls(succeeded=False, failure_code=code, failure_message=message, result=result or {})


@dataclass(frozen=True, order=True)
class LockTarget:
    """One row to lock: `model.objects.filter(<field>=value)`. A model is always locked by
    the same field, and rows of one rank are locked in primary-key order. The ranks are the
    domains' (their `locks.py`): the engine only sorts by them, so every path that locks
    rows through it takes them in one global order."""

    rank: int
    model: type[models.Model] = dc_field(compare=False)
    field: str = dc_field(compare=False)
    value: Any = dc_field(compare=False)


class LockedRows:
    def __init__(self) -> None:
        self._rows: dict[tuple[type[models.Model], str, Any], models.Model] = {}
        self._dirty: dict[int, tuple[models.Model, set[str]]] = {}

    def add(self, model: type[models.Model], field_name: str, instance: models.Model) -> None:
        self._rows[(model, field_name, getattr(instance, field_name))] = instance

    def get(self, model: type[models.Model], field_name: str, value: Any) -> models.Model | None:
        return self._rows.get((model, field_name, value))

    # Deferred writes: a settler changes a hot row (a campaign's spent amount) for every item
    # of a batch; it marks the row instead of saving it, and the engine writes it once per
    # batch, before commit. snapshot()/restore() undo the in-memory changes of an item whose
    # savepoint rolled back, so memory and database stay in step without a re-read.
    def save_deferred(self, instance: models.Model, fields: list[str]) -> None:
        self._dirty.setdefault(id(instance), (instance, set()))[1].update(fields)

    def flush(self) -> None:
        for instance, fields in self._dirty.values():
            instance.save(update_fields=sorted(fields))
        self._dirty.clear()

    def snapshot(self) -> tuple:
        return ({key: dict(instance.__dict__) for key, instance in self._rows.items()},
                {k: (inst, set(f)) for k, (inst, f) in self._dirty.items()})

    def restore(self, snapshot: tuple) -> None:
        rows, dirty = snapshot
        for key, state in rows.items():
            self._rows[key].__dict__.update(state)
        self._dirty = dirty


class Settler(Protocol):
    """`settle` decides one transaction. A settler may also offer
    `settle_batch(txns, locked) -> list[Outcome]`: the same decisions for many transactions
    of its kind at once, in order, as if `settle` had been called for each (the engine uses
    it for hot keys; it falls back to `settle` per item if the batch raises)."""

    kind: str

    def lock_targets(self, txn) -> list[LockTarget]: ...

    def settle(self, txn, locked: LockedRows) -> Outcome: ...


class Reverser(Protocol):
    """Undoes a SUCCEEDED transaction of its kind on the locked rows. `customer_may_reverse`:
    whether the customer may reverse their own (staff always may)."""

    customer_may_reverse: bool

    def lock_targets(self, txn) -> list[LockTarget]: ...

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome: ...


SETTLERS: dict[str, Settler] = {}
REVERSERS: dict[str, Reverser] = {}


def settler_register(settler: Settler) -> None:
    SETTLERS[settler.kind] = settler


def reverser_register(*, kind: str, reverser: Reverser) -> None:
    REVERSERS[kind] = reverser


# Observation, sent after commit in the process that finished them, once per batch, with
# `transactions`: every transaction of the batch that reached a terminal state. Best effort
# (a crash between the commit and the send loses it): for metrics only.
transactions_finished = Signal()

# The side effects of outcomes: sent by the outbox drain (activation.services.outbox) with
# `transactions` as they finished (each instance's status is the one its outbox row
# recorded), inside the database transaction that deletes those outbox rows. Receivers write
# their own durable records (notifications, callback deliveries) in it, so the records and
# the consumption commit together; what they send leaves after that commit. A receiver that
# raises rolls the batch back for a later drain, so receivers must be idempotent.
transactions_finished_durable = Signal()

# Observation hooks for metrics (monitoring subscribes; the engine never imports it).
# transaction_accepted: after commit of a new transaction (kind=). idempotency_replayed: the
# same key and body returned the original (kind=). idempotency_conflict: a twin request was
# refused (reason="in_progress" -> 409 or "key_reused" -> 422). transactions_swept: the
# sweeper re-enqueued `count` transactions.
transaction_accepted = Signal()
idempotency_replayed = Signal()
idempotency_conflict = Signal()
transactions_swept = Signal()
