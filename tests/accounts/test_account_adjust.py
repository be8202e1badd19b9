"""account_adjust: an operator's correction of a balance, on the account's row lock."""
import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Account, LedgerEntry, User
from accounts.services import AdjustmentRefused, account_adjust, account_top_up
from tests.factories import customer
from tests.helpers import assert_ledger_matches_balance


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_user("operator", "operator@example.com", "pw-123456", is_staff=True)


@pytest.mark.django_db
def test_an_adjustment_writes_one_adjustment_row_naming_operator_and_reason(operator):
    # given
    user = customer(balance="10.00")

    # when
    entry = account_adjust(user_id=user.id, amount=Decimal("2.51"), reason="  compensation #12 ",
                           operator_id=operator.id)

    # then
    assert (entry.amount, entry.balance_after, entry.reason) == (Decimal("2.51"), Decimal("12.51"), "adjustment")
    assert entry.description == "by operator: compensation #12"
    assert LedgerEntry.objects.get(pk=entry.pk).description == entry.description
    assert assert_ledger_matches_balance(user) == Decimal("12.51")


@pytest.mark.django_db
@pytest.mark.parametrize("amount, reason, code", [("-10.01", "too much", "insufficient_balance"),
                                                  ("0", "nothing", "amount_zero"),
                                                  ("1.00", "   ", "reason_required")])
def test_a_refused_adjustment_writes_nothing(operator, amount, reason, code):
    # given
    user = customer(balance="10.00")

    # when
    with pytest.raises(AdjustmentRefused) as refused:
        account_adjust(user_id=user.id, amount=Decimal(amount), reason=reason, operator_id=operator.id)

    # then
    assert refused.value.code == code
    assert LedgerEntry.objects.filter(account__user=user).count() == 1
    assert assert_ledger_matches_balance(user) == Decimal("10.00")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_adjustments_racing_other_ledger_writes_keep_balance_equal_to_the_ledger_and_never_below_zero(operator):
    # given: 10.00; 8 debits of 3.00 by adjustment (at most 3 fit) race 8 top-ups of 1.00
    user = customer(balance="10.00")
    start = threading.Barrier(16)
    refused: list[str] = []

    def adjust():
        try:
            start.wait()
            account_adjust(user_id=user.id, amount=Decimal("-3.00"), reason="race", operator_id=operator.id)
        except AdjustmentRefused as exc:
            refused.append(exc.code)
        finally:
            connection.close()

    def top_up():
        try:
            start.wait()
            account_top_up(user=user, amount=Decimal("1.00"))
        finally:
            connection.close()

    threads = [threading.Thread(target=fn) for fn in [adjust, top_up] * 8]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # then: every write is in the ledger, the sum is the balance, and it never went below 0
    adjustments = LedgerEntry.objects.filter(account__user=user, reason=LedgerEntry.Reason.ADJUSTMENT).count()
    assert adjustments + len(refused) == 8 and set(refused) <= {"insufficient_balance"}
    assert LedgerEntry.objects.filter(account__user=user, reason=LedgerEntry.Reason.TOP_UP).count() == 9
    balance = assert_ledger_matches_balance(user)
    assert balance == Decimal("18.00") - 3 * adjustments
    assert 3 <= adjustments <= 6
    assert Account.objects.get(user=user).balance == balance
