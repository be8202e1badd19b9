"""The hand-written statements of the accounts app, built from the models' metadata (a renamed
field fails here, at import). tests/accounts/test_sql.py checks each one writes what the ORM
would. Statements on the money path are prepared (kernel.prepared_sql)."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from accounts.models import Account, LedgerEntry
from kernel.fastjson import json_text
from kernel.prepared_sql import column, columns, instance_loaded, prepared_cursor, table

# Balances and the ledger rows that explain them, for any number of changes on accounts the
# caller holds locked, in one statement: one round trip per settlement batch, or per money
# path for a single change. Each change carries the balance after it; an account takes the
# one of its last change. Ledger rows are inserted in the changes' order, and only for
# accounts that were updated (an unknown account writes nothing). The accounts are also named
# as an array: PostgreSQL guesses 100 rows for the JSON, and for that many would rather scan a
# table of up to ~40,000 accounts (~450 pages) than look each up (tests/accounts/test_sql.py).
_LEDGER_ROW_TYPES = {"ord": "int", "account": "bigint", "amount": "numeric", "balance_after": "numeric",
                     "reason": "text", "transaction": "uuid", "description": "text"}
LEDGER_WRITES_SQL = f"""
WITH change AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS c({", ".join(f"{name} {kind}" for name, kind in _LEDGER_ROW_TYPES.items())})
), last AS (
    SELECT DISTINCT ON (account) account, balance_after FROM change ORDER BY account, ord DESC
), account AS (
    UPDATE {table(Account)} a
       SET {column(Account, "balance")} = last.balance_after, {column(Account, "updated_at")} = %(now)s
      FROM last WHERE a.{column(Account, "id")} = last.account AND a.{column(Account, "id")} = ANY(%(accounts)s::bigint[])
    RETURNING a.{column(Account, "id")}
)
INSERT INTO {table(LedgerEntry)} ({columns(LedgerEntry, "account", "amount", "balance_after", "reason",
                                          "transaction_id", "description")},
                                           {column(LedgerEntry, "created_at")})
SELECT change.account, change.amount, change.balance_after, change.reason, change.transaction, change.description,
       %(now)s
  FROM change JOIN account ON account.id = change.account
 ORDER BY change.ord
RETURNING {column(LedgerEntry, "id")}
"""


@dataclass(frozen=True)
class LedgerChange:
    account: Account
    amount: Decimal
    balance_after: Decimal
    reason: str
    transaction_id: UUID | None
    description: str


def account_balances_set_with_ledger_entries(changes: list[LedgerChange], *, now: datetime) -> list[LedgerEntry]:
    """Sets each changed account's balance to its last change's `balance_after` and inserts
    one ledger row per change, in order, all stamped `now`; returns those rows, saved."""
    if not changes:
        return []
    rows = [{"ord": n, "account": c.account.pk, "amount": str(c.amount), "balance_after": str(c.balance_after),
             "reason": c.reason, "transaction": str(c.transaction_id) if c.transaction_id else None,
             "description": c.description} for n, c in enumerate(changes)]
    with prepared_cursor() as cursor:
        cursor.execute(LEDGER_WRITES_SQL, {"rows": json_text(rows), "now": now,
                                           "accounts": list({c.account.pk for c in changes})})
        entry_ids = sorted(entry_id for (entry_id,) in cursor.fetchall())  # ids rise in insertion order
    if len(entry_ids) != len(changes):
        raise Account.DoesNotExist("a ledger change names an account that does not exist")
    entries = []
    for entry_id, change in zip(entry_ids, changes):
        entry = instance_loaded(LedgerEntry, id=entry_id, account_id=change.account.pk, amount=change.amount,
                                balance_after=change.balance_after, reason=change.reason,
                                transaction_id=change.transaction_id, description=change.description, created_at=now)
        entry.account = change.account
        entries.append(entry)
    return entries


def account_balance_set_with_ledger_entry(*, account: Account, balance: Decimal, amount: Decimal, reason: str,
                                          transaction_id: UUID | None, description: str,
                                          now: datetime) -> LedgerEntry:
    """Sets the account's balance and inserts the ledger row that explains it (`amount`, the
    balance after it), both stamped `now`; returns that row, saved."""
    (entry,) = account_balances_set_with_ledger_entries(
        [LedgerChange(account=account, amount=amount, balance_after=balance, reason=reason,
                      transaction_id=transaction_id, description=description)], now=now)
    return entry
