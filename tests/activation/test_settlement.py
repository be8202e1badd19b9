"""The settlement service in-process, against the real database: redelivery, batching,
row-lock races between many threads, and the state machine."""
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activation.models import Transaction
from activation.services import transaction_transition, transactions_settle
from activation.tasks import transaction_settle_task
from offers.models import Subscription
from offers.services import KIND_OFFER_ACTIVATION
from tests.factories import OfferFactory, customer
from tests.helpers import assert_ledger_matches_balance, wait_until_terminal


def pending_activation(user, offer) -> Transaction:
    """A PENDING row as the API writes it, without dispatching it to a worker."""
    return Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, payload={"offer_id": offer.id},
                                      amount=offer.price, currency=offer.currency)


@pytest.mark.django_db
def test_settling_the_same_transaction_twice_debits_once():
    # given
    user = customer(balance="30.00")
    txn = pending_activation(user, OfferFactory(price=Decimal("10.00")))

    # when: settled, then the same message delivered again, then the task run once more
    transactions_settle(transaction_id=txn.id, batch_size=1)
    transactions_settle(transaction_id=txn.id, batch_size=1)
    transaction_settle_task(str(txn.id))

    # then
    txn.refresh_from_db()
    assert txn.status == "SUCCEEDED"
    assert assert_ledger_matches_balance(user) == Decimal("20.00")
    assert Subscription.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_an_inactive_offer_fails_with_a_reason_and_charges_nothing():
    # given
    user = customer(balance="30.00")
    offer = OfferFactory(is_active=False)
    txn = pending_activation(user, offer)

    # when
    transactions_settle(transaction_id=txn.id)

    # then
    txn.refresh_from_db()
    assert (txn.status, txn.failure_code) == ("FAILED", "offer_inactive")
    assert assert_ledger_matches_balance(user) == Decimal("30.00")


@pytest.mark.django_db
def test_a_batch_settles_many_transactions_in_order_of_arrival():
    # given: balance for 3 of 5
    user = customer(balance="30.00")
    offer = OfferFactory(price=Decimal("10.00"))
    txns = [pending_activation(user, offer) for _ in range(5)]

    # when: one call settles the whole batch
    finished = transactions_settle(transaction_id=txns[0].id, batch_size=10)

    # then: the first three in arrival order succeed
    assert len(finished) == 5
    statuses = [Transaction.objects.get(pk=t.pk).status for t in txns]
    assert statuses == ["SUCCEEDED"] * 3 + ["FAILED"] * 2
    assert assert_ledger_matches_balance(user) == Decimal("0.00")


@pytest.mark.django_db
def test_a_batch_of_activations_reads_each_offer_once_and_decides_each_as_alone():
    # given: six customers, two offers, one customer short of money
    fibre, mobile = OfferFactory(price=Decimal("10.00")), OfferFactory(price=Decimal("4.00"))
    users = [customer(balance="20.00") for _ in range(5)] + [customer(balance="3.00")]
    txns = [pending_activation(user, fibre if i % 2 else mobile) for i, user in enumerate(users)]

    # when: one batch settles them all
    with CaptureQueriesContext(connection) as queries:
        transactions_settle(transaction_id=txns[0].id, batch_size=10)

    # then: each decided as it would be alone, and both offers read in one statement
    statuses = [Transaction.objects.get(pk=t.pk) for t in txns]
    assert [t.status for t in statuses] == ["SUCCEEDED"] * 5 + ["FAILED"]
    assert statuses[-1].failure_code == "insufficient_balance"
    assert Subscription.objects.filter(user__in=users[:5]).count() == 5
    for user in users:
        assert_ledger_matches_balance(user)
    (offer_read,) = [q["sql"] for q in queries if "FROM offers_offer" in q["sql"]]
    assert "ANY" in offer_read


@pytest.mark.django_db
def test_an_activation_whose_offer_was_deleted_fails_with_a_reason_and_charges_nothing():
    # given: the offer was deleted after the request was accepted
    user = customer(balance="20.00")
    gone = OfferFactory(price=Decimal("1.00"))
    orphan = pending_activation(user, gone)
    gone.delete()

    # when
    transactions_settle(transaction_id=orphan.id, batch_size=10)

    # then: a refusal recorded as an outcome (as for a deactivated offer), not a retry
    orphan.refresh_from_db()
    assert (orphan.status, orphan.failure_code) == ("FAILED", "offer_inactive")
    assert assert_ledger_matches_balance(user) == Decimal("20.00")


@pytest.mark.django_db
def test_a_settler_bug_leaves_the_item_for_retry_without_failing_the_batch(monkeypatch):
    # given: one activation of an offer whose settlement raises
    from offers import settlement

    user = customer(balance="30.00")
    good, bad = OfferFactory(price=Decimal("10.00")), OfferFactory(price=Decimal("5.00"))
    good_txn, bad_txn = pending_activation(user, good), pending_activation(user, bad)
    real = settlement.SubscriptionExtensions.record

    def explode_for_bad(extensions, **kwargs):
        if any(offer.pk == bad.pk for _, offer, _ in extensions._activations):
            raise RuntimeError("boom")
        return real(extensions, **kwargs)

    monkeypatch.setattr(settlement.SubscriptionExtensions, "record", explode_for_bad)

    # when
    transactions_settle(transaction_id=good_txn.id, batch_size=10)

    # then: the good one settled; the bad one rolled back to its savepoint, still unsettled
    good_txn.refresh_from_db()
    bad_txn.refresh_from_db()
    assert good_txn.status == "SUCCEEDED"
    assert bad_txn.status == "PROCESSING" and bad_txn.attempts == 1
    assert assert_ledger_matches_balance(user) == Decimal("20.00")


@pytest.mark.django_db(transaction=True)
def test_a_settler_bug_in_a_batch_rolls_it_back_whole_then_settles_the_others_item_by_item(monkeypatch, caplog):
    # (transaction=True: the settlement's rollback is a real ROLLBACK, as in a worker)
    # given: three activations of two customers, one of an offer whose settlement raises
    from offers import settlement

    alice, bob = customer(balance="30.00"), customer(balance="30.00")
    good, bad = OfferFactory(price=Decimal("10.00")), OfferFactory(price=Decimal("5.00"))
    first, broken, last = pending_activation(alice, good), pending_activation(alice, bad), pending_activation(bob, good)
    real = settlement.SubscriptionExtensions.record

    def explode_for_bad(extensions, **kwargs):
        if any(offer.pk == bad.pk for _, offer, _ in extensions._activations):
            raise RuntimeError("boom")
        return real(extensions, **kwargs)

    monkeypatch.setattr(settlement.SubscriptionExtensions, "record", explode_for_bad)

    # when: settled as one batch
    finished = transactions_settle(transaction_id=first.id, batch_size=10)

    # then: the batch was rolled back whole and replayed item by item: the good ones settled
    # once, the bad one's debit undone and the item left claimed for a retry
    assert {t.id for t in finished} == {first.id, last.id}
    for txn in (first, broken, last):
        txn.refresh_from_db()
    assert (first.status, last.status) == ("SUCCEEDED", "SUCCEEDED")
    assert broken.status == "PROCESSING" and broken.attempts == 1
    assert assert_ledger_matches_balance(alice) == Decimal("20.00")
    assert assert_ledger_matches_balance(bob) == Decimal("20.00")
    assert Subscription.objects.filter(user__in=[alice, bob]).count() == 2
    assert "settling it again item by item" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_settlers_do_not_raise_takes_no_savepoint():
    # given: three pending activations
    offer = OfferFactory(price=Decimal("1.00"))
    txns = [pending_activation(customer(balance="5.00"), offer) for _ in range(3)]

    # when: settled as one batch
    with CaptureQueriesContext(connection) as queries:
        finished = transactions_settle(transaction_id=txns[0].id, batch_size=10)

    # then: all settled in one database transaction, with no savepoint round trips
    assert len(finished) == 3
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]


@pytest.mark.django_db(transaction=True)
def test_a_settler_bug_in_a_batch_of_one_rolls_it_back_whole_and_leaves_it_for_retry(monkeypatch, caplog):
    # (transaction=True: the claim commits on its own and the settlement's rollback is a real
    # ROLLBACK, as in a worker, not a savepoint inside the test's transaction)
    # given: a lone activation whose settlement raises after the debit was written
    from offers import settlement

    user = customer(balance="30.00")
    txn = pending_activation(user, OfferFactory(price=Decimal("10.00")))

    def explode(extensions, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(settlement.SubscriptionExtensions, "record", explode)

    # when: settled as a batch of one (no savepoint is taken for it)
    finished = transactions_settle(transaction_id=txn.id, batch_size=1)

    # then: nothing finished, the debit rolled back, the item still claimed for a retry, logged
    txn.refresh_from_db()
    assert finished == []
    assert txn.status == "PROCESSING" and txn.attempts == 1
    assert assert_ledger_matches_balance(user) == Decimal("30.00")
    assert not Subscription.objects.filter(user=user).exists()
    assert f"settling {txn.id} raised" in caplog.text

    # and when the bug is gone, the retry settles it once
    monkeypatch.undo()
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    assert txn.status == "SUCCEEDED"
    assert assert_ledger_matches_balance(user) == Decimal("20.00")


@pytest.mark.django_db
def test_a_transaction_that_keeps_failing_is_given_up_after_the_attempt_limit(settings):
    # given
    settings.SETTLEMENT_MAX_ATTEMPTS = 2
    user = customer(balance="30.00")
    txn = pending_activation(user, OfferFactory())
    Transaction.objects.filter(pk=txn.pk).update(attempts=2)

    # when
    transactions_settle(transaction_id=txn.id)

    # then
    txn.refresh_from_db()
    assert (txn.status, txn.failure_code) == ("FAILED", "settlement_error")
    assert assert_ledger_matches_balance(user) == Decimal("30.00")


def test_only_the_documented_transitions_are_allowed():
    txn = Transaction(status="SUCCEEDED")
    transaction_transition(txn, "REVERSED")
    for start, target in [("FAILED", "SUCCEEDED"), ("REVERSED", "SUCCEEDED"), ("SUCCEEDED", "FAILED"),
                          ("PENDING", "REVERSED")]:
        with pytest.raises(ValueError):
            transaction_transition(Transaction(status=start), target)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_settlements_on_one_account_never_overspend():
    # given: 50 pending activations, balance for exactly 10
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("10.00"))
    txns = [pending_activation(user, offer) for _ in range(50)]
    barrier = threading.Barrier(25)

    def settle(chunk):
        try:
            barrier.wait()
            for txn in chunk:
                transactions_settle(transaction_id=txn.id, batch_size=3)
        finally:
            connection.close()

    # when: 25 threads settle them at once, each claiming small batches
    threads = [threading.Thread(target=settle, args=(txns[i::25],)) for i in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    final = wait_until_terminal([t.pk for t in txns])
    assert sum(t.status == "SUCCEEDED" for t in final) == 10
    assert sum(t.failure_code == "insufficient_balance" for t in final) == 40
    assert assert_ledger_matches_balance(user) == Decimal("0.00")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_settlement_commit_never_waits_for_the_lock_another_settler_left_on_a_settled_transaction():
    # given: a subscription created by t1; another settler still holds t1 in the mode settlers
    # lock transactions in (PostgreSQL keeps a row locked that a waiting SELECT ... FOR UPDATE
    # then skipped because it was settled meanwhile: that happens when two workers claimed it)
    import psycopg
    from django.conf import settings as django_settings
    from django.db import transaction as db_transaction

    from activation.locks import transaction_for_update

    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("10.00"))
    t1 = pending_activation(user, offer)
    transactions_settle(transaction_id=t1.id, batch_size=1)
    t2, t3 = pending_activation(user, offer), pending_activation(user, offer)
    with db_transaction.atomic():  # Django compiles a locking query only inside a transaction
        sql, params = transaction_for_update().filter(pk=t1.id).query.sql_with_params()
    db = django_settings.DATABASES["default"]
    other = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    other.execute(sql, params)

    # when: t2 and t3 settle in one batch, extending the subscription twice in one transaction,
    # so its foreign key to t1 is checked (KEY SHARE on t1) when that transaction commits
    done = threading.Event()

    def settle():
        try:
            transactions_settle(transaction_id=t2.id, batch_size=2)
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=settle)
    thread.start()
    committed_while_t1_was_held = done.wait(timeout=30)
    other.rollback()
    other.close()
    thread.join()

    # then: the commit did not wait (under FOR UPDATE it did, and with the account locked that
    # made a three-way deadlock with the settlers queued on the account)
    assert committed_while_t1_was_held
    assert {t.status for t in Transaction.objects.filter(pk__in=[t2.id, t3.id])} == {"SUCCEEDED"}
    assert assert_ledger_matches_balance(user) == Decimal("70.00")


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_one_statement_whose_own_transaction_commits_without_waiting_for_the_wal_flush():
    # given: pending activations (committed: this test runs in autocommit, as workers do)
    from django.test.utils import CaptureQueriesContext

    from activation import sql

    user = customer(balance="100.00")
    offer = OfferFactory()
    first, second = pending_activation(user, offer), pending_activation(user, offer)

    # when: claimed as a worker claims
    with CaptureQueriesContext(connection) as queries:
        claimed = sql.transactions_claim(first_id=first.id, limit=1)

    # then: one statement; and the same statement, asked to return the setting its own rows
    # were updated under, says synchronous_commit was off there, while the session stays on
    assert [row[0] for row in claimed] == [first.id] and len(queries) == 1
    probe = sql.CLAIM.split("RETURNING")[0] + "RETURNING current_setting('synchronous_commit')"
    with connection.cursor() as cursor:
        cursor.execute(probe, {"first": second.id, "more": 0, "no_flush_wait": True})
        assert cursor.fetchall() == [("off",)]
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db
def test_a_claim_inside_a_callers_transaction_leaves_that_transaction_durable():
    # given: a caller's open transaction (the test's own), which must not become asynchronous
    from activation import sql

    user = customer(balance="100.00")
    txn = pending_activation(user, OfferFactory())

    # when
    assert [row[0] for row in sql.transactions_claim(first_id=txn.id, limit=1)] == [txn.id]

    # then
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db
def test_settled_instances_built_from_the_claim_match_the_database_and_need_no_query_to_announce():
    # given: a succeeded and a refused activation settled in one batch
    from django.test.utils import CaptureQueriesContext

    from activation.selectors import transaction_status_payload

    user = customer(balance="15.00")
    offer = OfferFactory(price=Decimal("10.00"))
    txns = [pending_activation(user, offer), pending_activation(user, offer)]

    # when
    settled = transactions_settle(transaction_id=txns[0].id, batch_size=2)

    # then: what is announced after commit (statuses, signal receivers) reads only loaded
    # columns, and says what a fresh load from the database says
    with CaptureQueriesContext(connection) as queries:
        announced = {t.id: transaction_status_payload(t) for t in settled}
    assert len(queries) == 0
    assert announced == {t.id: transaction_status_payload(t)
                         for t in Transaction.objects.filter(pk__in=[t.id for t in txns])}
    assert sorted(p["status"] for p in announced.values()) == ["FAILED", "SUCCEEDED"]
    # a column the claim did not return is deferred, and loads when read
    assert settled[0].processing_started_at is not None
