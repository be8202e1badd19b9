"""Finished transactions waiting for their notifications: a Redis list the settlement
processes push to and the notifications queue drains, so settling publishes no Celery
message per batch (kombu's publish would cost the settlement process more than the rest
of announcing a lone activation).

    settlement, after commit -> finished_transactions_queue_push(ids)
        one Redis call: RPUSH the ids, raise the "drain wanted" flag (kernel.coalesce); only
        the caller that raised it publishes a drain message, delayed by NOTIFY_DRAIN_DELAY_MS,
        so under load one message carries every batch settled in that window
    notifications worker     -> finished_transactions_queue_drain(drain_id)
        clears the flag *first* (ids pushed from then on get a new message), then moves ids
        from the list to its own "draining" list and notifies them, batch after batch

Nothing is lost on the way:
- a drain that dies mid-batch leaves its ids in its draining list; the message is
  redelivered (acks_late, reject on worker lost) with the same id, and the drain starts by
  notifying what it had taken. Notifying twice is harmless: every notification has a
  dedupe key per transaction.
- a lost drain message: the flag expires after NOTIFY_DRAIN_WANTED_TTL_MS, and the next
  push, or the notifications sweeper (beat), publishes another.
- Redis down at push time: the ids go in a Celery message of their own (whose broker is
  usually down too: then they are lost).
"""
from __future__ import annotations

import logging
from typing import Iterable

import redis
from django.conf import settings

from kernel.coalesce import CoalescingFlag
from kernel.redis_store import RedisScript, redis_key, redis_store
from kernel.tasks import task_publish

logger = logging.getLogger(__name__)

QUEUE_KEY = redis_key("notify:finished")
DRAIN_WANTED = CoalescingFlag("notify:drain-wanted", ttl_ms=lambda: settings.NOTIFY_DRAIN_WANTED_TTL_MS)
DRAIN_WANTED_KEY = DRAIN_WANTED.key
DRAINING_KEY_PREFIX = redis_key("notify:draining:")
DRAINING_TTL_SECONDS = 7 * 24 * 3600  # a draining list whose message never comes back

DRAIN_TASK = "notifications.tasks.finished_transactions_notify_task"
NOTIFY_TASK = "notifications.tasks.transactions_notify_task"

# KEYS: queue, flag; ARGV: flag ttl (ms), ids... Returns 1 if this call set the flag.
_PUSH_SCRIPT = RedisScript("""
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return 1
end
return 0
""")
# KEYS: queue, draining list; ARGV: batch size, draining ttl (s). What the draining list
# holds (a redelivered drain's unfinished batch), else up to a batch moved from the queue.
_TAKE_SCRIPT = RedisScript("""
local held = redis.call('LRANGE', KEYS[2], 0, -1)
if #held > 0 then
  return held
end
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not ids then
  return {}
end
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return ids
""")


def finished_transactions_queue_push(transaction_ids: Iterable) -> bool:
    """After a settlement commit: queues the ids for notification and makes sure a drain
    message is on its way. Never raises. True if the ids are queued (in Redis or in a
    message of their own)."""
    ids = [str(transaction_id) for transaction_id in transaction_ids]
    if not ids:
        return True
    try:
        flag_set = _PUSH_SCRIPT(keys=[QUEUE_KEY, DRAIN_WANTED.key], args=[DRAIN_WANTED.ttl_ms, *ids],
                                client=redis_store())
    except redis.RedisError as exc:
        logger.warning("notification queue unavailable, %d id(s) go in a message of their own: %r", len(ids), exc)
        return task_publish(NOTIFY_TASK, args=[ids])
    if flag_set:
        return task_publish(DRAIN_TASK, countdown=settings.NOTIFY_DRAIN_DELAY_MS / 1000)
    return True


def finished_transactions_queue_drain(*, drain_id: str, batch_size: int | None = None) -> int:
    """What one drain message does: notifies every queued transaction, a batch at a time,
    until the queue is empty. Returns how many transactions it handled."""
    from notifications.events import transactions_notify

    batch_size = batch_size or settings.NOTIFY_DRAIN_BATCH_SIZE
    store = redis_store()
    DRAIN_WANTED.clear(client=store)  # before looking
    draining_key = f"{DRAINING_KEY_PREFIX}{drain_id}"
    handled = 0
    while True:
        ids = [raw.decode() for raw in _TAKE_SCRIPT(keys=[QUEUE_KEY, draining_key],
                                                      args=[batch_size, DRAINING_TTL_SECONDS], client=store)]
        if not ids:
            return handled
        transactions_notify(transaction_ids=ids)
        store.delete(draining_key)
        handled += len(ids)


def finished_transactions_queue_sweep() -> bool:
    """Beat: publishes a drain message if ids are queued and none is on its way (its
    message was lost, or the flag expired). True if it published one."""
    try:
        if not redis_store().llen(QUEUE_KEY):
            return False
    except redis.RedisError as exc:
        logger.warning("notification queue unavailable: %r", exc)
        return False
    if not DRAIN_WANTED.set_if_absent():
        return False
    return task_publish(DRAIN_TASK)
