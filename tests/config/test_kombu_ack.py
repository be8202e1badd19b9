"""A Redis ack that fails (a Redis stall) still frees the worker's prefetch slot
(config.celery patches kombu's Redis QoS.ack): against the real Redis, with kombu's own
channel; only the ack's Redis call is made to time out."""
import pytest
import redis
from django.conf import settings
from kombu import Connection, Exchange, Queue

import config.celery  # noqa: F401  (applies the patch, as every worker does)


class _TimingOutPipeline:
    def execute(self):
        raise redis.TimeoutError("Timeout reading from socket")


def test_an_ack_that_times_out_frees_its_prefetch_slot(monkeypatch):
    # given: a consumer with prefetch 1 holding one message
    queue = Queue("test-ack-slot", Exchange("test-ack-slot", "direct"), "test-ack-slot")
    with Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.channel()
        channel.basic_qos(0, 1, False)
        connection.Producer(channel).publish("m", exchange=queue.exchange, routing_key=queue.routing_key,
                                             declare=[queue])
        message = None
        while message is None:
            message = queue(channel).get(no_ack=False)
        assert not channel.qos.can_consume()

        # when: the ack's Redis call times out
        monkeypatch.setattr(channel.qos, "_remove_from_indices", lambda tag: _TimingOutPipeline())
        with pytest.raises(redis.TimeoutError):
            message.ack()

        # then: the slot is free again (the message stays in Redis's unacked index)
        assert channel.qos.can_consume()
        monkeypatch.undo()
        channel.qos._remove_from_indices(message.delivery_tag).execute()
        queue(channel).purge()
