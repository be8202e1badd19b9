"""accounts/sql.py writes what the ORM would: the same rows, and instances loaded as the ORM
loads them."""
import json
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, LedgerEntry
from accounts.sql import account_balance_set_with_ledger_entry
from tests.factories import customer

pytestmark = pytest.mark.django_db


def _fields(instance, *, leave_out=()) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields
            if field.attname not in leave_out}


def test_the_ledger_write_sets_the_balance_and_inserts_the_row_the_orm_would():
    # given: two accounts with the same balance, and one debit for each
    raw_account = Account.objects.get(user=customer(balance="30.00"))
    orm_account = Account.objects.get(user=customer(balance="30.00"))
    now, transaction_id = timezone.now(), uuid.uuid4()
    debit = {"amount": Decimal("-12.50"), "balance_after": Decimal("17.50"), "reason": LedgerEntry.Reason.DEBIT,
             "transaction_id": transaction_id, "description": "offer 7"}

    # when: one is written by the statement, the other by the ORM
    entry = account_balance_set_with_ledger_entry(account=raw_account, balance=debit["balance_after"],
                                                  amount=debit["amount"], reason=debit["reason"],
                                                  transaction_id=transaction_id, description=debit["description"],
                                                  now=now)
    Account.objects.filter(pk=orm_account.pk).update(balance=debit["balance_after"], updated_at=now)
    orm_entry = LedgerEntry.objects.create(account=orm_account, **debit)

    # then: the same account and ledger rows, but for the account they belong to
    raw_account.refresh_from_db(), orm_account.refresh_from_db()
    assert _fields(raw_account, leave_out=("id", "user_id")) == _fields(orm_account, leave_out=("id", "user_id"))
    stored = LedgerEntry.objects.get(pk=entry.pk)
    leave_out = ("id", "account_id", "created_at")
    assert _fields(stored, leave_out=leave_out) == _fields(orm_entry, leave_out=leave_out)
    assert (stored.account_id, stored.created_at) == (raw_account.pk, now)


def test_the_ledger_row_returned_is_the_row_stored_and_knows_it_is_saved():
    # given
    account = Account.objects.get(user=customer(balance="5.00"))
    now = timezone.now()

    # when: a top-up without a transaction
    entry = account_balance_set_with_ledger_entry(account=account, balance=Decimal("8.00"), amount=Decimal("3.00"),
                                                  reason=LedgerEntry.Reason.TOP_UP, transaction_id=None,
                                                  description="top-up", now=now)

    # then: field for field (and type for type) what the ORM reads back; saved, on its account
    stored = LedgerEntry.objects.get(pk=entry.pk)
    for field in LedgerEntry._meta.concrete_fields:
        assert getattr(entry, field.attname) == getattr(stored, field.attname), field.name
    assert entry._state.adding is False and entry._state.db == "default"
    assert entry.account is account


def test_the_batch_ledger_write_leaves_each_account_at_its_last_change_and_records_every_change_in_order():
    # given: two accounts, three changes on the first and one on the second, interleaved
    from accounts.sql import LedgerChange, account_balances_set_with_ledger_entries

    first = Account.objects.get(user=customer(balance="30.00"))
    second = Account.objects.get(user=customer(balance="9.00"))
    debit = LedgerEntry.Reason.DEBIT
    changes = [LedgerChange(first, Decimal("-10.00"), Decimal("20.00"), debit, uuid.uuid4(), "a"),
               LedgerChange(second, Decimal("-4.50"), Decimal("4.50"), debit, uuid.uuid4(), "b"),
               LedgerChange(first, Decimal("-7.00"), Decimal("13.00"), debit, uuid.uuid4(), "c"),
               LedgerChange(first, Decimal("2.00"), Decimal("15.00"), LedgerEntry.Reason.REFUND, None, "d")]
    now = timezone.now()

    # when
    entries = account_balances_set_with_ledger_entries(changes, now=now)

    # then: balances are the last change's, the rows are the changes in order, as returned
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.balance, second.balance, first.updated_at, second.updated_at) == (
        Decimal("15.00"), Decimal("4.50"), now, now)
    stored = list(LedgerEntry.objects.filter(pk__in=[e.pk for e in entries]).order_by("id"))
    assert [(e.account_id, e.amount, e.balance_after, e.reason, e.transaction_id, e.description) for e in stored] == [
        (c.account.pk, c.amount, c.balance_after, c.reason, c.transaction_id, c.description) for c in changes]
    for entry, row in zip(entries, stored):
        assert _fields(entry) == _fields(row)


def test_a_ledger_write_looks_its_accounts_up_by_key_however_many_accounts_there_are():
    # given: a few thousand accounts (PostgreSQL guesses 100 rows for the statement's JSON,
    # and against that many would rather scan a table this size than look each account up)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.sql import LEDGER_WRITES_SQL
    from tests.helpers import tables_scanned

    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"plan-{n}", password="!") for n in range(3000)])
    Account.objects.bulk_create([Account(user=user, balance=Decimal("5.00")) for user in users])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Account._meta.db_table}")
    account = Account.objects.get(user=users[-1])
    change = [{"ord": 0, "account": account.pk, "amount": "-1.00", "balance_after": "4.00",
               "reason": LedgerEntry.Reason.DEBIT, "transaction": None, "description": "one debit"}]

    # when: one debit is planned, as a settlement of one activation plans it
    scanned = tables_scanned(LEDGER_WRITES_SQL, {"rows": json.dumps(change), "now": timezone.now(),
                                                 "accounts": [account.pk]})

    # then: no plan reads the accounts table whole
    assert scanned == {"force_custom_plan": set(), "force_generic_plan": set()}
