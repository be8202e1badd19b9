"""The settlement's log names each transaction it finished and the request that created it
(the id travels on the row, read by the claim the worker already makes)."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activation.models import Transaction
from activation.services import transaction_accept, transactions_settle
from kernel.request_id import request_id_bound
from offers.services import KIND_OFFER_ACTIVATION
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


def accepted_in_request(*, request_id: str, user, offer) -> Transaction:
    with request_id_bound(request_id):
        return transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user.id, payload={"offer_id": offer.id},
                                  amount=offer.price, currency=offer.currency).transaction


def test_the_accept_writes_the_request_id_in_its_one_insert():
    # given
    user = customer(balance="10.00")
    offer = OfferFactory(price=Decimal("1.00"))

    # when
    with CaptureQueriesContext(connection) as queries:
        txn = accepted_in_request(request_id="rid-insert", user=user, offer=offer)

    # then: still one statement (prepared: its text has placeholders), and the row it wrote
    # carries the id
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1 and statements[0].startswith('INSERT INTO "activation_transaction"'), statements
    assert Transaction.objects.get(pk=txn.pk).request_id == "rid-insert" == txn.request_id


def test_a_batch_logs_one_line_per_finished_transaction_with_its_own_request_id(
        caplog, monkeypatch, django_capture_on_commit_callbacks):
    # given: three requests' transactions, one of which fails
    monkeypatch.setattr("activation.services.settle.finished_statuses_publish_and_drain_ensure", lambda payloads: False)
    user = customer(balance="2.00")
    offer = OfferFactory(price=Decimal("1.00"))
    txns = [accepted_in_request(request_id=f"rid-{n}", user=user, offer=offer) for n in range(3)]

    # when: one batch settles them all
    with CaptureQueriesContext(connection) as queries, caplog.at_level("INFO", logger="activation.services.settle"), \
            django_capture_on_commit_callbacks(execute=True):  # the after-commit work inside the capture
        transactions_settle(transaction_id=txns[0].id, batch_size=10)

    # then
    lines = {r.transaction_id: r for r in caplog.records if r.getMessage() == "transaction finished"}
    assert set(lines) == {str(t.id) for t in txns}
    assert {lines[str(t.id)].request_id for t in txns} == {"rid-0", "rid-1", "rid-2"}
    for txn in txns:
        line = lines[str(txn.id)]
        assert line.request_id == Transaction.objects.get(pk=txn.pk).request_id
    assert sorted(r.status for r in lines.values()) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert [r.failure_code for r in lines.values() if r.status == "FAILED"] == ["insufficient_balance"]
    # and the ids came with the claim, not with a read per transaction
    assert not [q["sql"] for q in queries.captured_queries
                if q["sql"].startswith("SELECT") and '"request_id"' in q["sql"]]
