"""Getting settlement messages to the workers.

Messages are coalesced: a message does not settle "its" transaction only, it drains every
PENDING one (settle.transactions_settle_pending). So while a message is queued or working,
the next transactions need none. SETTLEMENT_WANTED says "a message is on its way or at
work": raised by whoever publishes one, and lowered by the message's task once a batch comes
back short, *before* it looks one last time, so a transaction committed before the flag was
seen raised is always found by the message that raised it or by the one at work. The flag
expires by itself: a lost message delays work by at most SETTLEMENT_WANTED_TTL_MS under
load, and the sweeper covers an idle system.

A failure here loses nothing (the rows are durable): after the broker refuses a message
this process stops publishing from requests for BROKER_BACKOFF_SECONDS, so they stay fast
during an outage, and a background thread of the process owes the broker one message: it
tries every BROKER_RETRY_SECONDS and sends it as soon as the broker answers, so what was
accepted during the outage settles within a second of its end (the sweeps cover a process
that died meanwhile)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable
from uuid import UUID

from django.conf import settings

from activation.models import Transaction
from activation.selectors import transaction_status_payload
from activation.status import statuses_publish, statuses_publish_and_flag_set
from kernel.coalesce import CoalescingFlag
from kernel.tasks import task_publish

logger = logging.getLogger(__name__)

SETTLE_TASK = "activation.tasks.transaction_settle_task"
SETTLEMENT_WANTED = CoalescingFlag("settlement:wanted", ttl_ms=lambda: settings.SETTLEMENT_WANTED_TTL_MS)
SETTLEMENT_WANTED_KEY = SETTLEMENT_WANTED.key

BROKER_BACKOFF_SECONDS = 5.0
BROKER_RETRY_SECONDS = 0.5
_broker_down_until = 0.0  # per process: monotonic time before which requests do not try the broker
_message_owed = threading.Lock()  # held while this process's retry thread owes the broker a message


def transactions_dispatch(txns: Iterable[Transaction]) -> int:
    """After commit of new PENDING transactions: publishes their statuses and makes sure a
    settlement message is on its way (at most one is published; none if one is already
    queued); the statuses and the flag go in one Redis command. Returns the number of
    messages published."""
    txns = list(txns)
    if not txns:
        return 0
    payloads = [transaction_status_payload(t) for t in txns]
    if time.monotonic() < _broker_down_until:
        statuses_publish(payloads)
        _settlement_message_owe()
        return 0
    if statuses_publish_and_flag_set(payloads, flag_key=SETTLEMENT_WANTED.key, flag_ttl_ms=SETTLEMENT_WANTED.ttl_ms):
        return _settlement_message_publish_or_lower_flag(txns[0].id)
    return 0


def settlement_message_ensure() -> int:
    """Publishes a settlement message unless one is already on its way; 1 if it published."""
    if not SETTLEMENT_WANTED.set_if_absent():
        return 0
    return _settlement_message_publish_or_lower_flag(None)


def settlement_wanted_clear() -> None:
    """What a settlement message does before its last look for work: whatever commits from
    now on needs a new message."""
    SETTLEMENT_WANTED.clear()


def _settlement_message_publish_or_lower_flag(transaction_id: UUID | None) -> int:
    """For the caller that raised the flag: publishes the message it stands for; 1 if it did."""
    if settlement_message_publish(transaction_id):
        return 1
    SETTLEMENT_WANTED.clear()  # the next caller tries again (after the broker backoff)
    return 0


def settlement_message_publish(transaction_id: UUID | None) -> bool:
    """Sends one settlement message naming `transaction_id` (None: any pending); False if the
    broker refused it, after which this process leaves the broker alone for a while."""
    global _broker_down_until
    if task_publish(SETTLE_TASK, args=[str(transaction_id) if transaction_id else None]):
        return True
    _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
    _settlement_message_owe()
    return False


def _settlement_message_owe() -> None:
    """Starts this process's retry thread unless it is already running."""
    if _message_owed.acquire(blocking=False):
        threading.Thread(target=_settlement_message_retry, name="settlement-message-retry", daemon=True).start()


def _settlement_message_retry() -> None:
    """Until the broker takes one settlement message naming none (it drains every pending
    transaction); then requests publish again."""
    global _broker_down_until
    started = time.monotonic()
    logger.warning("the broker refused a settlement message; retrying every %s s", BROKER_RETRY_SECONDS)
    try:
        while True:
            time.sleep(BROKER_RETRY_SECONDS)
            if task_publish(SETTLE_TASK, args=[None], log_refusal=False):  # one line per outage, not per try
                _broker_down_until = 0.0
                logger.warning("the broker took the owed settlement message after %.1f s", time.monotonic() - started)
                return
    finally:
        _message_owed.release()
