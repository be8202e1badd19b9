"""Finished transactions wait in a Redis list for their notifications; one delayed drain
message carries every batch settled in its window (notifications.finished_queue).

In-process, against the real Redis and the real broker: messages are read back from the
broker's notifications list while the session's live worker (if any) is not consuming it.
The live end-to-end test (test_e2e.py) covers the worker's side."""
import base64
import json
import time
from datetime import datetime, timezone as dt_timezone

import pytest
import redis
from django.conf import settings

from activation.services import transactions_settle
from notifications.finished_queue import (DRAIN_WANTED_KEY, DRAINING_KEY_PREFIX, QUEUE_KEY,
                                          finished_transactions_queue_drain, finished_transactions_queue_push,
                                          finished_transactions_queue_sweep)
from notifications.models import Notification
from tests.activation.test_settlement import pending_activation
from tests.conftest import LiveWorker
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db

DRAIN_TASK = "notifications.tasks.finished_transactions_notify_task"


@pytest.fixture
def notification_messages():
    """Reads the notifications queue's messages (task name, args, eta) oldest first, with
    live workers not consuming it meanwhile."""
    workers = [w for w in LiveWorker.started if w.popen and w.popen.poll() is None]
    for worker in workers:
        worker.consumer_cancel("notifications")
    time.sleep(1.2)  # a BRPOP already waiting (1 s timeout) may still take one message
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("notifications")

    def queued() -> list[tuple[str, list, str | None]]:
        messages = []
        for raw in reversed(broker.lrange("notifications", 0, -1)):
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            messages.append((message["headers"]["task"], args, message["headers"].get("eta")))
        return messages

    yield queued
    broker.delete("notifications")
    for worker in workers:
        worker.consumer_add("notifications")


def store() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_REDIS_URL)


def settled_activations(n: int) -> list:
    user = customer(balance="100.00")
    offer = OfferFactory()
    txns = [pending_activation(user, offer) for _ in range(n)]
    for txn in txns:
        transactions_settle(transaction_id=txn.id, batch_size=1)
    return txns


def test_settled_batches_queue_their_ids_and_one_delayed_drain_message_carries_them_all(notification_messages):
    # given
    txns = settled_activations(3)
    before = time.time()

    # when: three batches finish one after the other
    for txn in txns:
        assert finished_transactions_queue_push([txn.id]) is True

    # then: every id queued in order, and one drain message, due NOTIFY_DRAIN_DELAY_MS later
    assert [raw.decode() for raw in store().lrange(QUEUE_KEY, 0, -1)] == [str(t.id) for t in txns]
    ((task, args, eta),) = notification_messages()
    assert task == DRAIN_TASK and args == []
    delay = datetime.fromisoformat(eta).astimezone(dt_timezone.utc).timestamp() - before
    assert settings.NOTIFY_DRAIN_DELAY_MS / 1000 - 0.2 < delay < settings.NOTIFY_DRAIN_DELAY_MS / 1000 + 5


def test_a_drain_notifies_every_queued_transaction_once_and_the_next_push_publishes_again(notification_messages):
    # given: five settled activations queued, their drain message published
    txns = settled_activations(5)
    finished_transactions_queue_push(t.id for t in txns[:2])
    finished_transactions_queue_push(t.id for t in txns[2:])
    assert len(notification_messages()) == 1

    # when: the drain runs, in batches of two
    handled = finished_transactions_queue_drain(drain_id="drain-1", batch_size=2)

    # then: each customer told once, nothing left queued, the flag down
    assert handled == 5
    notified = Notification.objects.filter(kind="activation_succeeded", channel="email")
    assert sorted(n.dedupe_key.split(":")[1] for n in notified) == sorted(str(t.id) for t in txns)
    assert store().llen(QUEUE_KEY) == 0 and not store().exists(DRAIN_WANTED_KEY)
    assert not store().keys(f"{DRAINING_KEY_PREFIX}*")

    # when: another batch finishes
    (late,) = settled_activations(1)
    finished_transactions_queue_push([late.id])

    # then: it publishes a drain message of its own
    assert [task for task, _, _ in notification_messages()] == [DRAIN_TASK, DRAIN_TASK]


def test_a_redelivered_drain_first_finishes_the_batch_it_had_taken(notification_messages, monkeypatch):
    # given: a drain that took a batch of three and died while notifying it
    txns = settled_activations(3)
    finished_transactions_queue_push(t.id for t in txns)

    def dies(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr("notifications.events.transactions_notify", dies)
    with pytest.raises(SystemExit):
        finished_transactions_queue_drain(drain_id="drain-redelivered", batch_size=10)
    monkeypatch.undo()
    assert store().llen(QUEUE_KEY) == 0
    assert store().llen(f"{DRAINING_KEY_PREFIX}drain-redelivered") == 3

    # when: another batch is queued, and the message comes back with the same id
    (later,) = settled_activations(1)
    finished_transactions_queue_push([later.id])
    handled = finished_transactions_queue_drain(drain_id="drain-redelivered", batch_size=10)

    # then: the taken batch and the later one, each notified once
    assert handled == 4
    assert Notification.objects.filter(kind="activation_succeeded", channel="email").count() == 4
    assert not store().exists(f"{DRAINING_KEY_PREFIX}drain-redelivered")


def test_the_sweeper_publishes_a_drain_only_for_ids_waiting_without_one(notification_messages):
    # given: nothing queued
    assert finished_transactions_queue_sweep() is False

    # given: ids queued and their drain message lost (the flag expired)
    (txn,) = settled_activations(1)
    finished_transactions_queue_push([txn.id])
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("notifications")  # the message is gone
    store().delete(DRAIN_WANTED_KEY)

    # when / then: the sweeper publishes one, due at once; a second sweep sees it on its way
    assert finished_transactions_queue_sweep() is True
    assert finished_transactions_queue_sweep() is False
    ((task, _, eta),) = notification_messages()
    assert task == DRAIN_TASK and eta is None


def test_with_the_queue_unavailable_the_ids_go_in_a_message_of_their_own(notification_messages, monkeypatch):
    # given: the status store refuses connections
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    monkeypatch.setattr("notifications.finished_queue.redis_store", lambda: unreachable)
    (txn,) = settled_activations(1)

    # when
    queued = finished_transactions_queue_push([txn.id])

    # then
    assert queued is True
    assert notification_messages() == [("notifications.tasks.transactions_notify_task", [[str(txn.id)]], None)]
