"""Finished transactions waiting for their notifications: a Redis list the settlement
processes push to and the notifications queue drains, so settling stays free of Celery.

Before, every settled batch published its own Celery message (`transactions_notify_task`):
about a quarter of the settlement process's CPU per lone activation (kombu builds the
message and makes two Redis round trips), spent after the statuses were out but before
the process could take the next message (docs/PERFORMANCE.md, run 12). Now:

    settlement, after commit -> finished_transactions_queue_push(ids)
        one Redis call: RPUSH the ids, SET the "drain wanted" flag NX; only the caller that
        set the flag publishes a drain message, delayed by NOTIFY_DRAIN_DELAY_MS, so under
        load one message carries every batch settled in that window
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
- Redis down at push time: the ids go in a Celery message as before (whose broker is
  usually down too: then they are lost, as the message was before this change).
"""
from __future__ import annotations

import logging
from typing import Iterable

import redis
from django.conf import settings

from kernel.redis_store import redis_store

logger = logging.getLogger(__name__)

QUEUE_KEY = "offers:notify:finished"
DRAIN_WANTED_KEY = "offers:notify:drain-wanted"
DRAINING_KEY_PREFIX = "offers:notify:draining:"
DRAINING_TTL_SECONDS = 7 * 24 * 3600  # a draining list whose message never comes back

# KEYS: queue, flag; ARGV: flag ttl (ms), ids... Returns 1 if this call set the flag.
_PUSH_SCRIPT = """
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return 1
end
return 0
"""
# KEYS: queue, draining list; ARGV: batch size, draining ttl (s). What the draining list
# holds (a redelivered drain's unfinished batch), else up to a batch moved from the queue.
_TAKE_SCRIPT = """
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
"""
_scripts: dict[str, object] = {}


def _script(source: str):
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = redis_store().register_script(source)
    return script


def finished_transactions_queue_push(transaction_ids: Iterable) -> bool:
    """After a settlement commit: queues the ids for notification and makes sure a drain
    message is on its way. Never raises. True if the ids are queued (in Redis or in a
    message of their own)."""
    ids = [str(transaction_id) for transaction_id in transaction_ids]
    if not ids:
        return True
    try:
        flag_set = _script(_PUSH_SCRIPT)(keys=[QUEUE_KEY, DRAIN_WANTED_KEY],
                                         args=[settings.NOTIFY_DRAIN_WANTED_TTL_MS, *ids])
    except redis.RedisError as exc:
        logger.warning("notification queue unavailable, %d id(s) go in a message of their own: %r", len(ids), exc)
        return _notify_message_publish(ids)
    if flag_set:
        return _drain_message_publish(countdown=settings.NOTIFY_DRAIN_DELAY_MS / 1000)
    return True


def finished_transactions_queue_drain(*, drain_id: str, batch_size: int | None = None) -> int:
    """What one drain message does: notifies every queued transaction, a batch at a time,
    until the queue is empty. Returns how many transactions it handled."""
    from notifications.events import transactions_notify

    batch_size = batch_size or settings.NOTIFY_DRAIN_BATCH_SIZE
    redis_store().delete(DRAIN_WANTED_KEY)  # before looking: what is pushed from now on needs a new message
    draining_key = f"{DRAINING_KEY_PREFIX}{drain_id}"
    handled = 0
    while True:
        ids = [raw.decode() for raw in _script(_TAKE_SCRIPT)(keys=[QUEUE_KEY, draining_key],
                                                               args=[batch_size, DRAINING_TTL_SECONDS])]
        if not ids:
            return handled
        transactions_notify(transaction_ids=ids)
        redis_store().delete(draining_key)
        handled += len(ids)


def finished_transactions_queue_sweep() -> bool:
    """Beat: publishes a drain message if ids are queued and none is on its way (its
    message was lost, or the flag expired). True if it published one."""
    try:
        if not redis_store().llen(QUEUE_KEY):
            return False
        if not redis_store().set(DRAIN_WANTED_KEY, "1", nx=True, px=settings.NOTIFY_DRAIN_WANTED_TTL_MS):
            return False
    except redis.RedisError as exc:
        logger.warning("notification queue unavailable: %r", exc)
        return False
    return _drain_message_publish(countdown=0)


def _drain_message_publish(*, countdown: float) -> bool:
    from notifications.tasks import finished_transactions_notify_task

    try:
        finished_transactions_notify_task.apply_async(countdown=countdown or None)
        return True
    except Exception as exc:  # broker down: the flag expires, the next push or the sweeper publishes
        logger.warning("could not enqueue the notification drain: %r", exc)
        return False


def _notify_message_publish(ids: list[str]) -> bool:
    from notifications.tasks import transactions_notify_task

    try:
        transactions_notify_task.delay(ids)
        return True
    except Exception as exc:
        logger.warning("could not enqueue notifications of %d transaction(s): %r", len(ids), exc)
        return False
