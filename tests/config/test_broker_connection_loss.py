"""A worker survives the loss of its broker connection while it holds unacked messages
(config.celery patches kombu's Redis QoS): with kombu 5.7.0 as is, Celery's close of the
lost connection, and the ack of a task that finishes after it, raise AttributeError, and
Celery ends the worker (tests/faults/test_faults.py's Redis crash, end to end). Against the
real Redis, with kombu's own connection and channel, in the states the crashed workers'
tracebacks show."""
import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue

import config.celery  # noqa: F401  (applies the patch, as every worker does)


@pytest.fixture
def held():
    """A connection to the broker whose channel (prefetch 1) holds one unacked message."""
    queue = Queue("test-connection-loss", Exchange("test-connection-loss", "direct"), "test-connection-loss")
    connection = Connection(settings.CELERY_BROKER_URL)
    channel = connection.default_channel
    channel.basic_qos(0, 1, False)
    connection.Producer(channel).publish("m", exchange=queue.exchange, routing_key=queue.routing_key,
                                         declare=[queue])
    message = None
    while message is None:
        message = queue(channel).get(no_ack=False)
    yield connection, message
    with Connection(settings.CELERY_BROKER_URL) as cleanup:
        queue(cleanup.default_channel).delete()


def test_the_lost_connection_closes_when_its_transport_was_detached_first(held):
    # given: the lost connection after Celery's clean-up detached its transport, its channel
    # still open with the unacked message
    connection, _ = held
    connection._do_close_transport()

    # when/then: Celery's close of it does not raise
    connection.close()


def test_a_task_finishing_after_the_connection_was_lost_is_acked_without_ending_the_worker(held):
    # given: an unacked message of the lost connection, whose channel's pools were closed
    # and whose transport was detached by Celery's clean-up
    connection, message = held
    message.channel._disconnect_pools()
    connection._do_close_transport()

    # when/then: its task finishes and acks it (acks_late), without an error
    message.ack()
