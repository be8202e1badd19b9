"""Every metric this platform records from code (counters and histograms).

They live in prometheus_client's default registry. With PROMETHEUS_MULTIPROC_DIR set
(make run, the live test processes, production) every process writes them to its own
mmap file and the exporter of its process type sums the files: gunicorn's uvicorn workers
share one directory, each Celery worker (main process + prefork children) another.
Scrape-time values (queue depth, oldest pending, workers alive, budgets, pools,
flash holds, callbacks, notifications) are
not here: they are read at scrape time by `monitoring.collectors`.
"""
from prometheus_client import Counter, Gauge, Histogram

transactions_accepted = Counter(
    "offers_transactions_accepted", "Transactions written PENDING (not idempotent replays).", ["kind"])
transactions_finished = Counter(
    "offers_transactions_finished", "Transactions that reached a terminal state.",
    ["kind", "status", "failure_code"])
transaction_settle_seconds = Histogram(
    "offers_transaction_settle_seconds", "Accepted -> terminal (settled_at - created_at).", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))
idempotency_replays = Counter(
    "offers_idempotency_replays", "Requests answered with the original transaction (same key, same body).", ["kind"])
idempotency_conflicts = Counter(
    "offers_idempotency_conflicts", "Idempotency refusals: in_progress (409) or key_reused (422).", ["kind", "reason"])
sweeper_reenqueued = Counter(
    "offers_sweeper_reenqueued", "Transactions the sweeper re-enqueued (lost message, killed worker).")
throttled_requests = Counter("offers_throttled_requests", "Requests refused with 429.", ["scope"])

task_runs = Counter("offers_celery_task_runs", "Celery task executions started.", ["task"])
task_retries = Counter("offers_celery_task_retries", "Celery task retries scheduled.", ["task"])
task_failures = Counter("offers_celery_task_failures", "Celery task executions that raised (after retries).",
                        ["task"])
task_seconds = Histogram("offers_celery_task_seconds", "Celery task run time.", ["task"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120))
# Beat's heartbeat, as the workers see it: beat itself serves no metrics, but every task it
# schedules stamps this when a worker finishes running it. "max" keeps the newest stamp of any
# process of the worker, dead prefork children included.
periodic_task_last_run = Gauge(
    "offers_periodic_task_last_run_timestamp_seconds",
    "Unix time a worker last finished a run of a task in the beat schedule (CELERY_BEAT_SCHEDULE).",
    ["task"], multiprocess_mode="max")

TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "REVERSED")
IDEMPOTENCY_CONFLICT_REASONS = ("in_progress", "key_reused")


def labels_initialise(*, kinds, throttle_scopes) -> None:
    """Creates the label sets we know in advance at zero, so dashboards and alerts see a
    series (a 0, not "no data") before the first event."""
    for kind in kinds:
        transactions_accepted.labels(kind=kind)
        idempotency_replays.labels(kind=kind)
        for reason in IDEMPOTENCY_CONFLICT_REASONS:
            idempotency_conflicts.labels(kind=kind, reason=reason)
        transaction_settle_seconds.labels(kind=kind)
        for status in TERMINAL_STATUSES:
            transactions_finished.labels(kind=kind, status=status, failure_code="")
    for scope in throttle_scopes:
        throttled_requests.labels(scope=scope)


def task_labels_initialise(task_names) -> None:
    for name in task_names:
        task_runs.labels(task=name)
        task_retries.labels(task=name)
        task_failures.labels(task=name)
