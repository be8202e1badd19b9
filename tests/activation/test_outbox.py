"""The settlement outbox: each outcome's side effects are owed in PostgreSQL from the
statement that writes the outcome, and handed to the receivers once, by a drain that commits
their records together with the consumption. Against the real database and Redis."""
import json

import pytest
import redis
from django.conf import settings
from django.db import transaction as db_transaction

from activation.models import FinishedOutbox, Transaction
from activation.registry import transactions_finished_durable
from activation.selectors import transaction_status_payload
from activation.services import finished_outbox_drain, transaction_reverse, transactions_settle
from activation.status import status_key
from notifications.models import Notification
from tests.activation.test_settlement import pending_activation
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


class _Boom(Exception):
    pass


@pytest.fixture
def handed_over():
    """What the drain hands to the receivers: (transaction id, status) per outcome."""
    seen = []

    def receiver(sender, transactions, **kwargs):
        seen.extend((txn.id, txn.status) for txn in transactions)

    transactions_finished_durable.connect(receiver, dispatch_uid="test-outbox", weak=False)
    yield seen
    transactions_finished_durable.disconnect(dispatch_uid="test-outbox")


def test_an_outcome_and_its_outbox_row_commit_or_roll_back_together():
    # given
    user = customer(balance="100.00")
    offer = OfferFactory()
    kept, rolled_back = pending_activation(user, offer), pending_activation(user, offer)

    # when: one settlement commits, the other's database transaction rolls back after it
    transactions_settle(transaction_id=kept.id, batch_size=1)
    with pytest.raises(_Boom), db_transaction.atomic():
        transactions_settle(transaction_id=rolled_back.id, batch_size=1)
        raise _Boom

    # then
    assert list(FinishedOutbox.objects.values_list("transaction_id", "status")) == [(kept.id, "SUCCEEDED")]
    assert Transaction.objects.get(pk=rolled_back.id).status == "PENDING"


def test_the_drain_hands_each_outcome_over_once_and_a_failing_receiver_keeps_the_batch(handed_over):
    # given: two settled activations
    user = customer(balance="100.00")
    offer = OfferFactory()
    txns = [pending_activation(user, offer) for _ in range(2)]
    for txn in txns:
        transactions_settle(transaction_id=txn.id, batch_size=1)

    # when: a receiver raises during the first drain
    def failing(sender, transactions, **kwargs):
        raise _Boom

    transactions_finished_durable.connect(failing, dispatch_uid="test-outbox-failing", weak=False)
    try:
        with pytest.raises(_Boom):
            finished_outbox_drain()
    finally:
        transactions_finished_durable.disconnect(dispatch_uid="test-outbox-failing")

    # then: nothing was consumed, and nothing the receivers wrote was kept
    assert FinishedOutbox.objects.count() == 2
    assert not Notification.objects.filter(user=user).exists()

    # when: drained again, twice (a redelivered message)
    first, second = finished_outbox_drain(), finished_outbox_drain()

    # then: handed over once each, told once each (in-app and email)
    assert (first, second) == (2, 0)
    assert handed_over[-2:] == [(txn.id, "SUCCEEDED") for txn in txns]
    assert not FinishedOutbox.objects.exists()
    assert Notification.objects.filter(user=user, kind="activation_succeeded").count() == 4


def test_a_reversed_transaction_is_handed_over_as_it_succeeded_then_as_reversed(handed_over):
    # given: an activation settled, then reversed by staff before any drain ran
    user = customer(balance="100.00")
    txn = pending_activation(user, OfferFactory())
    transactions_settle(transaction_id=txn.id, batch_size=1)
    reversal = transaction_reverse(transaction_id=txn.id, as_staff=True)

    # when
    finished_outbox_drain()

    # then: each status the original reached, in order, and the reversal's own outcome
    assert handed_over == [(txn.id, "SUCCEEDED"), (reversal.id, "SUCCEEDED"), (txn.id, "REVERSED")]


def test_the_drain_repairs_a_lost_status_but_never_overwrites_a_later_one():
    # given: two settled activations; the store still says PENDING for the first (its
    # process died before publishing) and REVERSED for the second (a later status)
    user = customer(balance="100.00")
    offer = OfferFactory()
    lost, later = pending_activation(user, offer), pending_activation(user, offer)
    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    store.set(status_key(lost.id), json.dumps(transaction_status_payload(lost)))
    for txn in (lost, later):
        transactions_settle(transaction_id=txn.id, batch_size=1)
    store.set(status_key(later.id), json.dumps({**transaction_status_payload(later), "status": "REVERSED"}))

    # when
    finished_outbox_drain()

    # then
    assert json.loads(store.get(status_key(lost.id)))["status"] == "SUCCEEDED"
    assert json.loads(store.get(status_key(later.id)))["status"] == "REVERSED"


def test_a_settlement_publishes_its_statuses_and_one_drain_message_while_the_flag_is_up(
        monkeypatch, django_capture_on_commit_callbacks):
    # given: no drain on its way; the messages the settlements publish, recorded
    from activation.services import outbox

    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    store.delete(outbox.DRAIN_WANTED.key)
    sent, broker_up = [], [True]
    monkeypatch.setattr(outbox, "task_publish", lambda name, **kw: sent.append(name) or broker_up[0])
    user = customer(balance="100.00")
    offer = OfferFactory()
    first, second, third = (pending_activation(user, offer) for _ in range(3))

    # when: two settlements commit, one after the other
    for txn in (first, second):
        with django_capture_on_commit_callbacks(execute=True):
            transactions_settle(transaction_id=txn.id, batch_size=1)

    # then: each one's final status is in the store, and one drain message carries both
    for txn in (first, second):
        assert json.loads(store.get(status_key(txn.id)))["status"] == "SUCCEEDED"
    assert sent == [outbox.DRAIN_TASK]
    assert 0 < store.pttl(outbox.DRAIN_WANTED.key) <= settings.NOTIFY_DRAIN_WANTED_TTL_MS

    # when: the drain has cleared the flag and the broker refuses the next message
    store.delete(outbox.DRAIN_WANTED.key)
    broker_up[0] = False
    with django_capture_on_commit_callbacks(execute=True):
        transactions_settle(transaction_id=third.id, batch_size=1)

    # then: the status is still published, and the flag is lowered for the next settlement to try
    assert json.loads(store.get(status_key(third.id)))["status"] == "SUCCEEDED"
    assert sent == [outbox.DRAIN_TASK] * 2
    assert not store.exists(outbox.DRAIN_WANTED.key)
