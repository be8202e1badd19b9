from itertools import groupby
from typing import Iterable
from uuid import UUID

from django.db.models import QuerySet

from activation import sql
from activation.models import Transaction
from activation.registry import LockedRows, LockTarget


def transaction_for_update() -> QuerySet[Transaction]:
    """Transaction rows locked FOR NO KEY UPDATE, in primary-key order: what settling or
    reversing a transaction needs (it changes status columns, never the key), and a lock
    that does not conflict with the KEY SHARE lock a foreign-key check takes on a row.

    Why that matters: a SELECT ... FOR UPDATE that waits for a row, then finds it no longer
    matches (another worker settled it meanwhile), skips the row but keeps it locked until
    commit. Under FOR UPDATE, the deferred foreign-key check at the COMMIT of a settlement
    that holds an account lock (subscription.created_by_transaction, checked when the row
    is changed twice in one transaction) then waits for that leftover lock while its
    holder waits for the account: a three-way deadlock, which this lock mode cannot form
    (docs/ARCHITECTURE.md)."""
    return Transaction.objects.select_for_update(no_key=True).order_by("pk")


def transactions_lock_settleable(transaction_ids: list[UUID]) -> set[UUID]:
    """Locks the given transactions that are still settleable, as transaction_for_update()
    does (same mode, same order), and returns their ids: the settlement already holds their
    columns from its claim, so it re-reads only what decides whether it may settle them, the
    status."""
    return sql.transactions_lock_settleable(transaction_ids)


def rows_lock(targets: Iterable[LockTarget]) -> LockedRows:
    """SELECT ... FOR UPDATE on every target, in the platform's fixed order (the ranks the
    domains give their targets, then primary key), one query per (rank, model, field)."""
    locked = LockedRows()
    ordered = sorted(targets, key=lambda t: (t.rank, t.model._meta.label, t.field))
    for (_, model, field_name), group in groupby(ordered, key=lambda t: (t.rank, t.model, t.field)):
        values = list({t.value for t in group})
        for instance in sql.rows_select_for_update(model, field_name, values):
            locked.add(model, field_name, instance)
    return locked
