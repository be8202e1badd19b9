from uuid import UUID

from django.db.models import QuerySet

from activation.models import Transaction
from kernel.prepared_sql import prepared_cursor

_SETTLEABLE_LOCK_SQL = f"""
SELECT id FROM {Transaction._meta.db_table}
 WHERE id = ANY(%s) AND status IN ('PENDING', 'PROCESSING')
 ORDER BY id
   FOR NO KEY UPDATE
"""


def transaction_for_update() -> QuerySet[Transaction]:
    """Transaction rows locked FOR NO KEY UPDATE, in primary-key order: what settling or
    reversing a transaction needs (it changes status columns, never the key), and a lock
    that does not conflict with the KEY SHARE lock a foreign-key check takes on a row.

    Why that matters: a SELECT ... FOR UPDATE that waits for a row, then finds it no longer
    matches (another worker settled it meanwhile), skips the row but keeps it locked until
    commit. Under FOR UPDATE, the deferred foreign-key check at the COMMIT of a settlement
    that holds an account lock (subscription.created_by_transaction, checked when the row
    is changed twice in one transaction) then waited for that leftover lock while its
    holder waited for the account: a three-way deadlock, reproduced under CPU load by the
    parallel-settlement test and gone with this lock mode (docs/ARCHITECTURE.md)."""
    return Transaction.objects.select_for_update(no_key=True).order_by("pk")


def transactions_lock_settleable(transaction_ids: list[UUID]) -> set[UUID]:
    """Locks the given transactions that are still settleable, as transaction_for_update()
    does (same mode, same order), and returns their ids: the settlement already holds their
    columns from its claim, so it re-reads only what decides whether it may settle them, the
    status."""
    with prepared_cursor() as cursor:
        cursor.execute(_SETTLEABLE_LOCK_SQL, [transaction_ids])
        return {row[0] for row in cursor.fetchall()}
