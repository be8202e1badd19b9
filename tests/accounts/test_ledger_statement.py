"""account/ledger/: my statement, newest first, mine alone."""
from decimal import Decimal

import pytest

from accounts.models import Account
from accounts.services import account_adjust, account_debit
from tests.factories import bearer, customer

pytestmark = pytest.mark.django_db


def test_my_statement_lists_every_balance_change_newest_first_with_its_running_balance(api_client):
    # given: a top-up, a debit for a transaction, an operator's adjustment; and another customer's money
    staff = customer(username="ledger-desk", is_staff=True)
    me = customer(balance="30.00")
    account_debit(account=Account.objects.get(user=me), amount=Decimal("12.50"),
                  transaction_id="7f1f4c1e-5a39-4b6b-a1a5-5d2b8e0c9a11", description="offer 1")
    account_adjust(user_id=me.id, amount=Decimal("2.00"), reason="goodwill", operator_id=staff.id)
    customer(balance="99.00")

    # when
    response = api_client.get("/api/v1/account/ledger/", HTTP_AUTHORIZATION=bearer(me))

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    rows = [{k: row[k] for k in ("amount", "currency", "reason", "description", "transaction_id", "balance_after")}
            for row in body["results"]]
    assert rows == [
        {"amount": "2.00", "currency": "EUR", "reason": "adjustment", "description": "by ledger-desk: goodwill",
         "transaction_id": None, "balance_after": "19.50"},
        {"amount": "-12.50", "currency": "EUR", "reason": "debit", "description": "offer 1",
         "transaction_id": "7f1f4c1e-5a39-4b6b-a1a5-5d2b8e0c9a11", "balance_after": "17.50"},
        {"amount": "30.00", "currency": "EUR", "reason": "top_up", "description": "top-up", "transaction_id": None,
         "balance_after": "30.00"},
    ]
    assert all(row["created_at"] and row["id"] for row in body["results"])
    assert Decimal(rows[0]["balance_after"]) == Account.objects.get(user=me).balance


def test_the_statement_is_paginated(api_client):
    # given
    me = customer(balance="1.00")
    for _ in range(3):
        account_debit(account=Account.objects.get(user=me), amount=Decimal("0.10"), transaction_id=None)

    # when
    first = api_client.get("/api/v1/account/ledger/?page_size=2", HTTP_AUTHORIZATION=bearer(me)).json()
    second = api_client.get("/api/v1/account/ledger/?page_size=2&page=2", HTTP_AUTHORIZATION=bearer(me)).json()

    # then
    assert first["count"] == 4 and len(first["results"]) == 2 and first["next"]
    assert [r["balance_after"] for r in first["results"] + second["results"]] == ["0.70", "0.80", "0.90", "1.00"]


def test_a_customer_without_money_movements_has_an_empty_statement_and_anonymous_gets_401(api_client):
    assert api_client.get("/api/v1/account/ledger/", HTTP_AUTHORIZATION=bearer(customer())).json()["count"] == 0
    assert api_client.get("/api/v1/account/ledger/").status_code == 401
