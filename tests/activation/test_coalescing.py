"""Settlement messages are coalesced: one queued message drains every pending transaction.

In-process, against the real broker and the real Redis flag: the messages are read back
from the broker's settlement list while any live worker of the session is paused on it
(these rows are not committed, so no worker could settle them anyway). The end-to-end tests
cover the worker's side."""
import base64
import json
import time
from uuid import UUID
from datetime import timedelta

import pytest
import redis
from django.conf import settings

from activation.models import Transaction
from activation.status import status_key
from activation.services import (SETTLEMENT_WANTED_KEY, transactions_dispatch, transactions_settle_pending,
                                 transactions_sweep)
from tests.activation.test_settlement import pending_activation
from tests.conftest import LiveWorker
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    """Reads the transaction ids named by the settlement messages queued on the broker, oldest
    first (None: a message naming none)."""
    workers = [w for w in LiveWorker.started if w.popen and w.popen.poll() is None]
    for worker in workers:
        worker.settlement_pause()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("settlement")

    def queued() -> list:
        ids = []
        for raw in reversed(broker.lrange("settlement", 0, -1)):  # kombu LPUSHes; workers take from the right
            args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
            ids.append(UUID(args[0]) if args and args[0] else None)
        return ids

    yield queued
    broker.delete("settlement")
    for worker in workers:
        worker.settlement_resume()


def test_while_a_message_is_queued_new_transactions_publish_none(published):
    # given
    user = customer(balance="100.00")
    offer = OfferFactory()
    txns = [pending_activation(user, offer) for _ in range(5)]

    # when: each is dispatched as the API does after its commit
    counts = [transactions_dispatch([t]) for t in txns]

    # then: one message, naming the first
    assert counts == [1, 0, 0, 0, 0]
    assert published() == [txns[0].id]


def _ten_pending_drained_by_one_message(settings, *, batch_size: int):
    """Given ten pending activations and the message the first one published, when that
    message's task runs: returns (how many it finished, the first transaction, user, offer)."""
    settings.SETTLEMENT_BATCH_SIZE = batch_size
    user = customer(balance="100.00")
    offer = OfferFactory()
    txns = [pending_activation(user, offer) for _ in range(10)]
    transactions_dispatch([txns[0]])
    return transactions_settle_pending(transaction_id=txns[0].id), txns[0], user, offer


def test_a_message_drains_every_pending_transaction_then_the_next_one_publishes_again(published, settings):
    # given / when: pending work that fits one batch, drained by the first one's message
    finished, first, user, offer = _ten_pending_drained_by_one_message(settings, batch_size=16)

    # then: all ten settled, and the flag is down so a new transaction publishes
    assert finished == 10
    assert not Transaction.objects.filter(status__in=Transaction.SETTLEABLE).exists()
    later = pending_activation(user, offer)
    transactions_dispatch([later])
    assert published() == [first.id, later.id]


def test_a_drain_that_finds_a_backlog_calls_one_more_process_in(published, settings):
    # given / when: a backlog of several batches behind one message (two full batches, then
    # a short one)
    finished, first, user, offer = _ten_pending_drained_by_one_message(settings, batch_size=4)

    # then: all ten settled, and the first full batch queued one message (naming none) for an
    # idle settlement process to join; the second found it still queued and added none, and
    # a new transaction needs none of its own while it is
    assert finished == 10
    assert not Transaction.objects.filter(status__in=Transaction.SETTLEABLE).exists()
    transactions_dispatch([pending_activation(user, offer)])
    assert published() == [first.id, None]


def test_what_is_accepted_while_a_message_works_needs_no_message_and_that_one_settles_it(published, settings,
                                                                                        monkeypatch):
    # given: one pending activation and its message; while that message settles its first
    # batch, a second activation commits and is dispatched as the API does
    import activation.services.settle as settle

    settings.SETTLEMENT_BATCH_SIZE = 16
    user = customer(balance="100.00")
    offer = OfferFactory()
    first = pending_activation(user, offer)
    transactions_dispatch([first])
    accepted_meanwhile, dispatched = [], []
    settle_batch = settle.transactions_settle

    def settle_then_accept(**kwargs):
        batch = settle_batch(**kwargs)
        if not accepted_meanwhile:
            accepted_meanwhile.append(pending_activation(user, offer))
            dispatched.append(transactions_dispatch(accepted_meanwhile))
        return batch

    monkeypatch.setattr(settle, "transactions_settle", settle_then_accept)

    # when
    finished = transactions_settle_pending(transaction_id=first.id)

    # then: the second published nothing, the first's message settled both, and the flag is
    # down again so the next transaction publishes
    assert dispatched == [0] and finished == 2
    assert not Transaction.objects.filter(status__in=Transaction.SETTLEABLE).exists()
    later = pending_activation(user, offer)
    transactions_dispatch([later])
    assert published() == [first.id, later.id]


def test_a_lost_message_only_delays_until_its_flag_expires(published, settings):
    # given: a message published, then lost (a flag of 2 s: with 300 ms, a stall of a loaded
    # machine between the first two transactions let it expire and the second published)
    settings.SETTLEMENT_WANTED_TTL_MS = 2000
    user = customer(balance="100.00")
    offer = OfferFactory()
    assert transactions_dispatch([pending_activation(user, offer)]) == 1
    assert transactions_dispatch([pending_activation(user, offer)]) == 0
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("settlement")  # the message is lost

    # when: the flag expires
    time.sleep(2.3)

    # then: the next transaction publishes a message again
    third = pending_activation(user, offer)
    assert transactions_dispatch([third]) == 1
    assert published() == [third.id]


def test_the_sweeper_publishes_one_message_for_pending_and_one_per_stuck_processing(published):
    # given: 3 stale PENDING, 2 stale PROCESSING (a worker died holding them)
    user = customer(balance="100.00")
    offer = OfferFactory()
    pending = [pending_activation(user, offer) for _ in range(3)]
    stuck = [pending_activation(user, offer) for _ in range(2)]
    Transaction.objects.filter(pk__in=[t.pk for t in stuck]).update(status="PROCESSING", attempts=1)
    stuck.sort(key=lambda t: t.created_at)
    redis.Redis.from_url(settings.CACHE_REDIS_URL).set(SETTLEMENT_WANTED_KEY, "1")  # even with a stale flag

    # when
    swept = transactions_sweep(stale_after=timedelta(0))

    # then
    assert swept == 5
    assert published() == [pending[0].id] + [t.id for t in stuck]


def test_accepted_requests_store_their_statuses_and_raise_the_flag_together(published, api_client,
                                                                          django_capture_on_commit_callbacks):
    # given
    from tests.factories import bearer

    user = customer(balance="100.00")
    offer = OfferFactory()
    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)

    # when: two activations through the API (the first raises the flag, the second finds it up)
    with django_capture_on_commit_callbacks(execute=True):
        ids = [api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user)).json()["transaction_id"] for _ in range(2)]

    # then: both PENDING statuses are stored (with their TTL), one message is queued, and the
    # flag stays up for the next request until the message's task lowers it
    assert [json.loads(store.get(status_key(i)))["status"] for i in ids] == ["PENDING", "PENDING"]
    assert store.ttl(status_key(ids[1])) > 0
    assert published() == [UUID(ids[0])]
    assert 0 < store.pttl(SETTLEMENT_WANTED_KEY) <= settings.SETTLEMENT_WANTED_TTL_MS
