"""Turns the platform's hooks into metrics. Connected once per process from
MonitoringConfig.ready(); every receiver is cheap and never raises into the sender."""
from __future__ import annotations

import time
from collections import Counter

from celery import signals as celery_signals

from monitoring import metrics

_task_started: dict[str, float] = {}
_periodic_tasks: frozenset[str] = frozenset()


def on_transaction_accepted(sender, transaction, **kwargs) -> None:
    metrics.transactions_accepted.labels(kind=transaction.kind).inc()


def on_transactions_finished(sender, transactions, **kwargs) -> None:
    for (kind, status, failure_code), n in Counter((t.kind, t.status, t.failure_code or "")
                                                   for t in transactions).items():
        metrics.transactions_finished.labels(kind=kind, status=status, failure_code=failure_code).inc(n)
    histograms = {}  # one label lookup per kind, not per transaction: a batch has hundreds
    for transaction in transactions:
        # A REVERSED original was settled long ago; its latency was observed then.
        if transaction.status in ("SUCCEEDED", "FAILED") and transaction.settled_at and transaction.created_at:
            histogram = histograms.get(transaction.kind)
            if histogram is None:
                histogram = histograms[transaction.kind] = metrics.transaction_settle_seconds.labels(
                    kind=transaction.kind)
            histogram.observe(max((transaction.settled_at - transaction.created_at).total_seconds(), 0.0))


def on_idempotency_replayed(sender, kind, **kwargs) -> None:
    metrics.idempotency_replays.labels(kind=kind).inc()


def on_idempotency_conflict(sender, kind, reason, **kwargs) -> None:
    metrics.idempotency_conflicts.labels(kind=kind, reason=reason).inc()


def on_transactions_swept(sender, count, **kwargs) -> None:
    metrics.sweeper_reenqueued.inc(count)


def on_request_throttled(sender, scope, **kwargs) -> None:
    metrics.throttled_requests.labels(scope=scope).inc()


def _task_name(sender=None, task=None, **kwargs) -> str:
    return getattr(task or sender, "name", None) or "unknown"


def on_task_prerun(sender=None, task_id=None, task=None, **kwargs) -> None:
    metrics.task_runs.labels(task=_task_name(sender, task)).inc()
    if task_id:
        _task_started[task_id] = time.monotonic()


def on_task_postrun(sender=None, task_id=None, task=None, **kwargs) -> None:
    name = _task_name(sender, task)
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None:
        metrics.task_seconds.labels(task=name).observe(time.monotonic() - started)
    if name in _periodic_tasks:
        metrics.periodic_task_last_run.labels(task=name).set(time.time())


def on_task_retry(sender=None, **kwargs) -> None:
    metrics.task_retries.labels(task=_task_name(sender)).inc()


def on_task_failure(sender=None, **kwargs) -> None:
    metrics.task_failures.labels(task=_task_name(sender)).inc()


def receivers_connect() -> None:
    global _periodic_tasks
    from django.conf import settings

    from activation import registry
    from kernel import throttles

    _periodic_tasks = frozenset(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())

    registry.transaction_accepted.connect(on_transaction_accepted, dispatch_uid="monitoring.accepted")
    registry.transactions_finished.connect(on_transactions_finished, dispatch_uid="monitoring.finished")
    registry.idempotency_replayed.connect(on_idempotency_replayed, dispatch_uid="monitoring.replayed")
    registry.idempotency_conflict.connect(on_idempotency_conflict, dispatch_uid="monitoring.conflict")
    registry.transactions_swept.connect(on_transactions_swept, dispatch_uid="monitoring.swept")
    throttles.request_throttled.connect(on_request_throttled, dispatch_uid="monitoring.throttled")
    celery_signals.task_prerun.connect(on_task_prerun, dispatch_uid="monitoring.task_prerun", weak=False)
    celery_signals.task_postrun.connect(on_task_postrun, dispatch_uid="monitoring.task_postrun", weak=False)
    celery_signals.task_retry.connect(on_task_retry, dispatch_uid="monitoring.task_retry", weak=False)
    celery_signals.task_failure.connect(on_task_failure, dispatch_uid="monitoring.task_failure", weak=False)
