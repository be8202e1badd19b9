"""The engine's hand-written statements (activation/sql.py) against the model they stand in
for: they name its real table and columns, and what they write is what the ORM reads back."""
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from activation import sql
from activation.models import Transaction
from activation.registry import Outcome
from activation.services import transactions_finish
from tests.activation.test_settlement import pending_activation
from tests.factories import OfferFactory, customer

quote = connection.ops.quote_name
TABLE = quote(Transaction._meta.db_table)


def column(name: str) -> str:
    return quote(Transaction._meta.get_field(name).column)


def test_every_statement_names_the_models_table_and_the_columns_it_claims_locks_and_finishes():
    # given / when / then
    for statement in (sql.CLAIM, sql.SETTLEABLE_LOCK, sql.FINISH):
        assert TABLE in statement
    for name in (*sql.CLAIMED_FIELDS, "processing_started_at", "updated_at"):
        assert column(name) in sql.CLAIM
    for name in ("status", "failure_code", "failure_message", "result", "settled_at", "updated_at"):
        assert f"{column(name)} =" in sql.FINISH
    for status in Transaction.SETTLEABLE:
        assert f"'{status}'" in sql.SETTLEABLE_LOCK and f"'{status}'" in sql.CLAIM
    assert quote(Account._meta.db_table) in sql.rows_for_update(Account, "user_id")
    assert quote(Account._meta.get_field("user").column) in sql.rows_for_update(Account, "user_id")


@pytest.mark.django_db
def test_a_claimed_row_is_what_the_orm_reads_and_the_claim_wrote_what_the_orm_reads_back():
    # given
    user = customer(balance="100.00")
    txn = pending_activation(user, OfferFactory(price=Decimal("7.50")))
    before = timezone.now()

    # when
    (row,) = sql.transactions_claim(first_id=txn.id, limit=1)
    claimed = sql.claimed_transaction_build(row)

    # then: every claimed attribute equals the ORM's, and the row is PROCESSING, one attempt
    stored = Transaction.objects.get(pk=txn.id)
    for name in sql.CLAIMED_FIELDS:
        attname = Transaction._meta.get_field(name).attname
        if name == "status":
            continue
        assert getattr(claimed, attname) == getattr(stored, attname), name
    assert claimed.status == stored.status == Transaction.Status.PROCESSING
    assert stored.attempts == txn.attempts + 1
    assert stored.processing_started_at is not None and stored.processing_started_at >= before - timedelta(seconds=5)


@pytest.mark.django_db
def test_finishing_claimed_transactions_writes_what_the_orm_reads_back():
    # given: two claimed transactions
    user = customer(balance="100.00")
    offer = OfferFactory()
    first, second = pending_activation(user, offer), pending_activation(user, offer)
    claimed = [sql.claimed_transaction_build(row) for row in sql.transactions_claim(first_id=first.id, limit=2)]
    outcomes = {first.id: Outcome.success({"subscription_id": 12, "note": "é"}),
                second.id: Outcome.failure("insufficient_balance", "Not enough money.", {"needed": "3.00"})}

    # when
    transactions_finish([(txn, outcomes[txn.id]) for txn in claimed])

    # then: the ORM reads back each outcome, and the instances say the same
    for txn in claimed:
        stored = Transaction.objects.get(pk=txn.id)
        outcome = outcomes[txn.id]
        assert stored.status == ("SUCCEEDED" if outcome.succeeded else "FAILED") == txn.status
        assert (stored.failure_code, stored.failure_message, stored.result) == (
            outcome.failure_code, outcome.failure_message, outcome.result)
        assert stored.settled_at == stored.updated_at == txn.settled_at


@pytest.mark.django_db
def test_the_settleable_lock_returns_only_the_unsettled_ones():
    # given
    user = customer(balance="100.00")
    offer = OfferFactory()
    pending, done = pending_activation(user, offer), pending_activation(user, offer)
    Transaction.objects.filter(pk=done.id).update(status=Transaction.Status.FAILED)

    # when / then
    assert sql.transactions_lock_settleable([pending.id, done.id]) == {pending.id}


@pytest.mark.django_db
def test_rows_for_update_loads_the_instances_the_orm_would():
    # given
    user = customer(balance="42.00")

    # when
    (account,) = sql.rows_select_for_update(Account, "user_id", [user.id])

    # then
    expected = Account.objects.get(user_id=user.id)
    assert {f.attname: getattr(account, f.attname) for f in Account._meta.concrete_fields} == \
        {f.attname: getattr(expected, f.attname) for f in Account._meta.concrete_fields}


@pytest.mark.django_db
def test_the_pending_insert_writes_the_row_the_orm_would_create_and_returns_it_as_the_orm_reads_it():
    # given: what the ORM writes for the same transaction
    user = customer(balance="10.00")
    given = {"kind": "offer_activation", "user_id": user.id, "payload": {"offer_id": 7, "note": "é"},
             "amount": Decimal("7.50"), "currency": "EUR", "idempotency_key": "k-1", "request_id": "req-1"}
    by_orm = Transaction.objects.create(**given)
    now = timezone.now()

    # when
    inserted = sql.transaction_insert_pending(id=uuid.uuid4(), created_at=now, **given)

    # then: the ORM reads back what the instance says, and it matches the ORM's own row
    # column for column (but the key and the times)
    stored = Transaction.objects.get(pk=inserted.id)
    fields = [f.attname for f in Transaction._meta.concrete_fields]
    assert {name: getattr(inserted, name) for name in fields} == {name: getattr(stored, name) for name in fields}
    reference = Transaction.objects.get(pk=by_orm.id)
    differing = {name for name in fields if getattr(stored, name) != getattr(reference, name)}
    assert differing == {"id", "created_at", "updated_at"}
    assert stored.status == Transaction.Status.PENDING and stored.created_at == stored.updated_at == now
    assert inserted._state.adding is False


@pytest.mark.django_db
def test_two_pending_inserts_do_not_share_their_result_dict():
    # given
    user = customer()
    first, second = (sql.transaction_insert_pending(
        id=uuid.uuid4(), kind="offer_activation", user_id=user.id, payload={}, amount=None, currency="",
        idempotency_key="", request_id="", created_at=timezone.now()) for _ in range(2))

    # when
    first.result["x"] = 1

    # then
    assert second.result == {}


@pytest.mark.django_db
def test_finishing_looks_the_transactions_up_by_key_however_many_there_are():
    # given: a few thousand settled transactions and one to finish (PostgreSQL guesses 100
    # rows for the statement's JSON, and against that many would rather scan a small table)
    from tests.helpers import tables_scanned

    user = customer(balance="100.00")
    Transaction.objects.bulk_create([Transaction(kind="offer_activation", user=user, status="SUCCEEDED", payload={})
                                     for _ in range(3000)])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Transaction._meta.db_table}")
    txn = pending_activation(user, OfferFactory())
    row = {"id": str(txn.id), "status": "SUCCEEDED", "failure_code": "", "failure_message": "", "result": {}}

    # when: one outcome is planned, as a settlement of one transaction plans it
    scanned = tables_scanned(sql.FINISH, {"now": timezone.now(), "rows": json.dumps([row]), "ids": [txn.id]})

    # then: no plan reads the transaction table whole
    assert scanned == {"force_custom_plan": set(), "force_generic_plan": set()}
