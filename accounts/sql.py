"""The hand-written statements of the accounts app, built from the models' metadata (a renamed
field fails here, at import). tests/accounts/test_sql.py checks each one writes what the ORM
would. Statements on the money path are prepared (kernel.prepared_sql)."""
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from accounts.models import Account, LedgerEntry
from kernel.prepared_sql import column, columns, instance_loaded, prepared_cursor, table

# The balance and its ledger row in one statement: one round trip on every money path. The
# ledger row is inserted only if the account row was updated (an unknown account writes nothing).
LEDGER_WRITE_SQL = f"""
WITH account AS (
    UPDATE {table(Account)} SET {column(Account, "balance")} = %(balance)s, {column(Account, "updated_at")} = %(now)s \
WHERE {column(Account, "id")} = %(account)s RETURNING {column(Account, "id")}
)
INSERT INTO {table(LedgerEntry)} ({columns(LedgerEntry, "account", "amount", "balance_after", "reason",
                                          "transaction_id", "description")},
                                           {column(LedgerEntry, "created_at")})
SELECT account.id, %(amount)s, %(balance)s, %(reason)s, %(transaction)s::uuid, %(description)s, %(now)s FROM account
RETURNING {column(LedgerEntry, "id")}
"""


def account_balance_set_with_ledger_entry(*, account: Account, balance: Decimal, amount: Decimal, reason: str,
                                          transaction_id: UUID | None, description: str,
                                          now: datetime) -> LedgerEntry:
    """Sets the account's balance and inserts the ledger row that explains it (`amount`, the
    balance after it), both stamped `now`; returns that row, saved."""
    with prepared_cursor() as cursor:
        cursor.execute(LEDGER_WRITE_SQL, {"balance": balance, "now": now, "account": account.pk, "amount": amount,
                                          "reason": reason, "transaction": transaction_id,
                                          "description": description})
        (entry_id,) = cursor.fetchone()
    entry = instance_loaded(LedgerEntry, id=entry_id, account_id=account.pk, amount=amount, balance_after=balance,
                            reason=reason, transaction_id=transaction_id, description=description, created_at=now)
    entry.account = account
    return entry
