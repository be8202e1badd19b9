"""Schema settings of the transaction table that no model field expresses."""
import pytest
from django.db import connection

from activation.models import Transaction
from offers.services import KIND_OFFER_ACTIVATION
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


def _statistics_targets(table: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("""SELECT attname, attstattarget FROM pg_attribute
                           WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped""", [table])
        return dict(cursor.fetchall())


def test_analyze_builds_no_statistics_for_the_json_columns_and_keeps_the_others():
    # nothing filters on payload or result; their statistics were most of the table's ANALYZE
    targets = _statistics_targets("activation_transaction")

    assert targets["payload"] == 0 and targets["result"] == 0
    assert targets["status"] == -1 and targets["created_at"] == -1  # the default target: filtered and sorted on


def test_analyze_still_runs_and_keeps_statistics_for_the_filtered_columns():
    # given: transactions with payloads and results
    user, offer = customer(balance="10.00"), OfferFactory()
    for n in range(20):
        Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, payload={"offer_id": offer.id, "n": n},
                                   result={"n": n})

    # when: the table is analyzed
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE activation_transaction")
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = 'activation_transaction'")
        with_statistics = {row[0] for row in cursor.fetchall()}

    # then: the other columns have their statistics, the JSON ones none
    assert {"status", "created_at", "user_id"} <= with_statistics
    assert "payload" not in with_statistics and "result" not in with_statistics
