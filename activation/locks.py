from django.db.models import QuerySet

from activation.models import Transaction


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
