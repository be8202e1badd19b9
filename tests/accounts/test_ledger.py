from decimal import Decimal

import pytest
from django.db import IntegrityError

from accounts.models import Account
from accounts.services import account_debit, account_top_up
from tests.factories import customer
from tests.helpers import assert_ledger_matches_balance

pytestmark = pytest.mark.django_db


def test_every_balance_change_writes_one_ledger_row_and_the_sum_matches():
    user = customer(balance="10.00")
    account_top_up(user=user, amount=Decimal("5.555"))
    account = Account.objects.get(user=user)
    account_debit(account=account, amount=Decimal("3.00"), transaction_id=None)
    assert assert_ledger_matches_balance(user) == Decimal("12.56")
    assert account.ledger_entries.count() == 3


def test_the_database_refuses_a_negative_balance():
    user = customer(balance="1.00")
    account = Account.objects.get(user=user)
    with pytest.raises(IntegrityError):
        account_debit(account=account, amount=Decimal("2.00"), transaction_id=None)
