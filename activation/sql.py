"""Every hand-written statement of the engine, built from the models' metadata and the
status enum, run as server-side prepared statements (kernel.prepared_sql).

They exist because the ORM's versions cost more to compile and plan than to run on the
settlement path, which runs them for every message. Each one states what the ORM would
do instead; tests/activation/test_sql.py checks that they name the model's real table and
columns and write what the ORM reads back. Status values are written into the text as
literals, not parameters, so PostgreSQL can match the claim to the partial index on
unsettled rows under a generic plan."""
from __future__ import annotations

import functools
from datetime import datetime
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, models
from django.db.models.base import ModelState

from activation.models import FinishedOutbox, Transaction
from kernel.fastjson import json_loads, json_text
from kernel.prepared_sql import instance_loaded, model_columns, prepared_cursor, prepared_instances

_quote = connection.ops.quote_name
_Status = Transaction.Status


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _column(model: type[models.Model], field_name: str) -> str:
    return _quote(model._meta.get_field(field_name).column)


_TXN = _quote(Transaction._meta.db_table)
_ID, _STATUS, _CREATED_AT = _column(Transaction, "id"), _column(Transaction, "status"), _column(Transaction, "created_at")
_SETTLEABLE = ", ".join(_literal(status) for status in sorted(Transaction.SETTLEABLE))

# --- accept --------------------------------------------------------------------------------
# Transaction.objects.create(...) for a new PENDING row, written once: compiling the ORM's
# INSERT (a field-by-field pass, every value prepared) was most of the accept's database
# work in the web process (0.50 ms against 0.23 ms prepared: docs/PERFORMANCE.md). Every
# concrete column is named; those an accepted row always starts with are literals.
_PENDING_GIVEN = ("id", "kind", "user", "amount", "currency", "payload", "idempotency_key", "request_id",
                  "created_at")
_PENDING_STARTS = {"status": _Status.PENDING, "failure_code": "", "failure_message": "", "result": {},
                   "reverses": None, "attempts": 0, "processing_started_at": None, "settled_at": None}
_PENDING_TYPES = {"id": "uuid", "amount": "numeric", "payload": "jsonb", "created_at": "timestamptz",
                  "user": "bigint"}


def _pending_value(name: str) -> str:
    if name in _PENDING_GIVEN:
        return f"%({name})s::{_PENDING_TYPES.get(name, 'text')}"
    if name == "updated_at":
        return "%(created_at)s::timestamptz"
    value = _PENDING_STARTS[name]
    if value is None:
        return "NULL"
    if isinstance(value, dict):
        return _literal(json_text(value)) + "::jsonb"
    return str(value) if isinstance(value, int) else _literal(value)


_INSERTED_FIELDS = tuple(field.name for field in Transaction._meta.concrete_fields)
PENDING_INSERT = (f"INSERT INTO {_TXN} ({', '.join(_column(Transaction, name) for name in _INSERTED_FIELDS)}) "
                  f"VALUES ({', '.join(_pending_value(name) for name in _INSERTED_FIELDS)})")


def transaction_insert_pending(*, id: UUID, kind: str, user_id: int, payload: dict, amount, currency: str,
                               idempotency_key: str, request_id: str, created_at: datetime) -> Transaction:
    """INSERTs a PENDING transaction and returns it as the ORM would have (saved, every
    column loaded)."""
    with prepared_cursor() as cursor:
        cursor.execute(PENDING_INSERT, {"id": id, "kind": kind, "user": user_id, "amount": amount,
                                        "currency": currency, "payload": json_text(payload),
                                        "idempotency_key": idempotency_key, "request_id": request_id,
                                        "created_at": created_at})
    starts = {Transaction._meta.get_field(name).attname: (dict(value) if isinstance(value, dict) else value)
              for name, value in _PENDING_STARTS.items()}
    return instance_loaded(Transaction, id=id, kind=kind, user_id=user_id, amount=amount, currency=currency,
                           payload=payload, idempotency_key=idempotency_key, request_id=request_id,
                           created_at=created_at, updated_at=created_at, **starts)


# --- claim ---------------------------------------------------------------------------------
# What the claim returns of each row: everything settlers, the status payload and the
# finished-signal receivers read. None of it changes while the row is claimed except the
# status, which the settlement re-reads under its lock (SETTLEABLE_LOCK), and the attempt
# count, which only a second claim of the same row raises (a message naming a stale
# PROCESSING row): this claim's count is then one low, which only delays giving up. Left out
# and so deferred on the instances: updated_at and processing_started_at (the claim just set
# them) and what the settlement itself writes (result, failure_*, settled_at).
# request_id: for the settlement's log line per transaction (one short column, no other read).
CLAIMED_FIELDS = ("id", "kind", "user", "status", "amount", "currency", "payload", "idempotency_key", "reverses",
                  "attempts", "created_at", "request_id")
_CLAIMED_ATTNAMES = tuple(Transaction._meta.get_field(name).attname for name in CLAIMED_FIELDS)


def _claim_returning(field_name: str) -> str:
    column = f"t.{_column(Transaction, field_name)}"
    if field_name == "created_at":
        # ISO 8601 text for datetime.fromisoformat (C), far cheaper than the timestamptz
        # loader Django installs (Python), whatever the session's time zone.
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
    return column


# PENDING -> PROCESSING for `first` (if still settleable) and up to `more` other PENDING rows,
# oldest first, skipping rows another worker holds; one statement, its own transaction. With
# `no_flush_wait` its commit does not wait for the WAL flush (set_config(..., true) is SET
# LOCAL): a claim lost in a database crash only leaves the row PENDING, and the settlement
# commit that follows flushes the claim's WAL record with its own.
CLAIM = f"""
WITH no_flush_wait AS MATERIALIZED (
    SELECT set_config('synchronous_commit',
                      CASE WHEN %(no_flush_wait)s THEN 'off' ELSE current_setting('synchronous_commit') END, true)
), first AS (
    SELECT {_ID} FROM {_TXN}
     WHERE {_ID} = %(first)s::uuid AND {_STATUS} IN ({_SETTLEABLE})
     FOR NO KEY UPDATE SKIP LOCKED
), more AS (
    SELECT {_ID} FROM {_TXN}
     WHERE {_STATUS} = {_literal(_Status.PENDING)} AND {_ID} IS DISTINCT FROM %(first)s::uuid
     ORDER BY {_CREATED_AT} LIMIT %(more)s
     FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE {_TXN} t
   SET {_STATUS} = {_literal(_Status.PROCESSING)},
       {_column(Transaction, "attempts")} = t.{_column(Transaction, "attempts")} + 1,
       {_column(Transaction, "processing_started_at")} = now(), {_column(Transaction, "updated_at")} = now()
 WHERE t.{_ID} IN (SELECT {_ID} FROM first UNION ALL SELECT {_ID} FROM more)
   AND EXISTS (SELECT FROM no_flush_wait)
RETURNING {", ".join(_claim_returning(name) for name in CLAIMED_FIELDS)}
"""


def transactions_claim(*, first_id: UUID | None, limit: int) -> list[tuple]:
    """Runs CLAIM for up to `limit` rows (`first_id` first) and returns the claimed rows
    (CLAIMED_FIELDS, id first). Outside a caller's transaction the claim's commit does not
    wait for the WAL flush; inside one it leaves the setting alone (it would last until
    that commit)."""
    with prepared_cursor() as cursor:
        cursor.execute(CLAIM, {"first": first_id, "more": max(limit - (1 if first_id else 0), 0),
                               "no_flush_wait": not connection.in_atomic_block})
        return cursor.fetchall()


def claimed_transaction_build(row: tuple) -> Transaction:
    """An instance from a claimed row, the columns not claimed deferred (as with .only())."""
    columns = dict(zip(_CLAIMED_ATTNAMES, row))
    columns["payload"] = json_loads(columns["payload"])  # jsonb arrives as text, as for the ORM
    columns["created_at"] = datetime.fromisoformat(columns["created_at"])
    # Built as unpickling builds one, without Model.__init__'s per-field pass and init signals:
    # loading claimed rows through the ORM was ~38 % of a settlement process's CPU
    # (docs/PERFORMANCE.md#claimed-rows-without-the-orm).
    txn = Transaction.__new__(Transaction)
    txn.__dict__.update(columns)
    txn._state = ModelState()
    txn._state.adding = False
    txn._state.db = DEFAULT_DB_ALIAS
    return txn


# --- the settlement's lock on its claimed rows ------------------------------------------------
# transaction_for_update().filter(pk__in=ids, status__in=SETTLEABLE).values_list("pk"), written
# once: the settlement already holds the other columns from its claim.
SETTLEABLE_LOCK = f"""
SELECT {_ID} FROM {_TXN}
 WHERE {_ID} = ANY(%s) AND {_STATUS} IN ({_SETTLEABLE})
 ORDER BY {_ID}
   FOR NO KEY UPDATE
"""


def transactions_lock_settleable(transaction_ids: list[UUID]) -> set[UUID]:
    with prepared_cursor() as cursor:
        cursor.execute(SETTLEABLE_LOCK, [transaction_ids])
        return {row[0] for row in cursor.fetchall()}


# --- finish --------------------------------------------------------------------------------
# The outcome columns of many transactions in one statement; the rows travel as one JSON
# parameter (far cheaper to encode than one array per column).
_FINISHED_FIELDS = ("status", "failure_code", "failure_message", "result")
_FINISHED_TYPES = {"status": "text", "failure_code": "text", "failure_message": "text", "result": "jsonb"}
_OUTBOX = _quote(FinishedOutbox._meta.db_table)
_OUTBOX_INSERT = (f"INSERT INTO {_OUTBOX} ({_column(FinishedOutbox, 'transaction_id')}, "
                  f"{_column(FinishedOutbox, 'status')}, {_column(FinishedOutbox, 'created_at')})")
# The outcome columns and, in the same statement, the outbox row of each finished
# transaction (activation.models.FinishedOutbox): the side effects are owed exactly when
# the outcome commits. The ids also travel as an array, so the rows are looked up by key
# however many the JSON holds (PostgreSQL guesses 100 for it: accounts/sql.py).
FINISH = f"""
WITH finished AS (
    UPDATE {_TXN} t
       SET {", ".join(f"{_column(Transaction, name)} = v.{name}" for name in _FINISHED_FIELDS)},
           {_column(Transaction, "settled_at")} = %(now)s, {_column(Transaction, "updated_at")} = %(now)s
      FROM jsonb_to_recordset(%(rows)s::jsonb)
           AS v(id uuid, {", ".join(f"{name} {_FINISHED_TYPES[name]}" for name in _FINISHED_FIELDS)})
     WHERE t.{_ID} = v.id AND t.{_ID} = ANY(%(ids)s::uuid[])
 RETURNING t.{_ID}, t.{_STATUS}
)
{_OUTBOX_INSERT}
SELECT {_ID}, {_STATUS}, %(now)s FROM finished
"""


def transactions_finish_write(txns: list[Transaction], *, now: datetime) -> None:
    """Writes each instance's outcome columns, and `now` as settled_at and updated_at, and
    records each outcome in the outbox."""
    if not txns:
        return
    rows = [{"id": txn.id, **{name: getattr(txn, name) for name in _FINISHED_FIELDS}} for txn in txns]
    with prepared_cursor() as cursor:
        cursor.execute(FINISH, {"now": now, "rows": json_text(rows), "ids": [txn.id for txn in txns]})


# --- the outbox ----------------------------------------------------------------------------
OUTBOX_RECORD = f"{_OUTBOX_INSERT} SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[])"


def outbox_record(events: list[tuple[UUID, str]], *, now: datetime) -> None:
    """Outbox rows for status changes made outside FINISH (a reversed original)."""
    if events:
        with connection.cursor() as cursor:
            cursor.execute(OUTBOX_RECORD, [[e[0] for e in events], [e[1] for e in events], [now] * len(events)])


# Deletes up to %s of the oldest outbox rows no other drain holds and returns them; the
# caller's database transaction hands them to their receivers and commits the lot, or
# rolls back and leaves them for the next drain.
OUTBOX_TAKE = f"""
DELETE FROM {_OUTBOX}
 WHERE {_quote(FinishedOutbox._meta.pk.column)} IN (
       SELECT {_quote(FinishedOutbox._meta.pk.column)} FROM {_OUTBOX}
        ORDER BY {_quote(FinishedOutbox._meta.pk.column)} LIMIT %s
          FOR UPDATE SKIP LOCKED)
RETURNING {_column(FinishedOutbox, 'transaction_id')}, {_column(FinishedOutbox, 'status')}
"""


def outbox_take(*, limit: int) -> list[tuple[UUID, str]]:
    with connection.cursor() as cursor:
        cursor.execute(OUTBOX_TAKE, [limit])
        return cursor.fetchall()


# --- domain rows ---------------------------------------------------------------------------
@functools.cache
def rows_for_update(model: type[models.Model], field_name: str) -> str:
    """What model.objects.select_for_update().filter(<field>__in=...).order_by("pk") sends,
    written once per (model, field) and prepared: compiling that queryset cost more than
    running it (a lone settlement locks two or three rows), and planning it about as much."""
    return (f"SELECT {model_columns(model)} FROM {_quote(model._meta.db_table)} "
            f"WHERE {_column(model, field_name)} = ANY(%s) ORDER BY {_quote(model._meta.pk.column)} FOR UPDATE")


def rows_select_for_update(model: type[models.Model], field_name: str, values: list) -> list[models.Model]:
    return prepared_instances(model, rows_for_update(model, field_name), [values])


# --- idempotency ---------------------------------------------------------------------------
ADVISORY_XACT_LOCK_TRY = "SELECT pg_try_advisory_xact_lock(%s)"


def advisory_xact_lock_try(lock_id: int) -> bool:
    """A transaction-scoped advisory lock, without waiting: False if another session holds it."""
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_XACT_LOCK_TRY, [lock_id])
        return cursor.fetchone()[0]
