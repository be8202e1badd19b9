"""The one Celery app. Settings come from Django settings with the CELERY_ prefix."""
import functools
import os
import time

from celery import Celery, bootsteps
from celery.worker.consumer import Consumer
from celery.signals import (setup_logging, task_postrun, task_prerun, worker_process_init, worker_process_shutdown,
                            worker_ready, worker_shutdown)
from django.db import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def _kombu_redis_qos_patch() -> None:
    """Two fixes to kombu 5.7.0's Redis QoS (the unacked-message bookkeeping of a worker):

    * Its ack frees the message's prefetch slot only after its Redis call succeeds: acks that
      time out in a Redis stall left a worker connected, answering pings and fetching
      nothing, until restarted (prefetch 2: two timed-out acks; seen in 2 of 5 runs of
      tests/faults/test_network_faults.py). The slot is freed whatever the call did; the
      message stays in the unacked index, and every task is idempotent.
    * Once the broker connection is lost, Celery detaches its transport before the channel
      is closed (and before the acks of tasks still running arrive); kombu then reaches
      Redis through the detached transport, raises AttributeError ("'NoneType' object has no
      attribute 'hostname'"), and Celery ends the worker as unrecoverable: a worker holding
      unacked messages when Redis crashed exited (3 of 5 runs of tests/faults/test_faults.py's
      Redis crash) and settled nothing until restarted. Such a QoS makes no Redis call: its
      messages stay in the unacked index, which the visibility timeout restores.

    Their tests: tests/config/test_kombu_ack.py, tests/config/test_broker_connection_loss.py."""
    from kombu.transport.redis import QoS
    from kombu.transport.virtual.base import QoS as VirtualQoS

    restore_unacked, reject = QoS.restore_unacked, QoS.reject

    def detached(qos) -> bool:
        return qos.channel.connection is None or qos.channel.connection.client is None

    def ack(self, delivery_tag):
        try:
            if not detached(self):
                self._remove_from_indices(delivery_tag).execute()
        finally:
            VirtualQoS.ack(self, delivery_tag)

    def reject_unless_detached(self, delivery_tag, requeue=False):
        if detached(self):
            return VirtualQoS.ack(self, delivery_tag)
        return reject(self, delivery_tag, requeue)

    def restore_unacked_unless_detached(self, client=None):
        if not detached(self):
            return restore_unacked(self, client)

    QoS.ack = ack
    QoS.reject = reject_unless_detached
    QoS.restore_unacked = restore_unacked_unless_detached


_kombu_redis_qos_patch()

app = Celery("offers")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Workers and beat log as the web does (LOGGING, kernel/log_format.py: JSON unless
# LOG_FORMAT=plain, level LOG_LEVEL) instead of Celery's own format; each line written
# while a task runs names the task.
@setup_logging.connect
def _logging_configure(**kwargs):
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@task_prerun.connect
def _log_context_task_enter(task_id=None, task=None, **kwargs):
    from kernel.request_id import task_id_var, task_name_var

    task_name_var.set(getattr(task, "name", "") or "")
    task_id_var.set(task_id or "")


@task_postrun.connect
def _log_context_task_leave(**kwargs):
    from kernel.request_id import task_id_var, task_name_var

    task_name_var.set("")
    task_id_var.set("")


class RecoveryOnBrokerConnect(bootsteps.StartStopStep):
    """Each time this worker's consumer connects to the broker (at start, and again after the
    broker came back) it sends the sweeps, each told to look at everything at once instead
    of waiting for staleness: a worker that starts after a crash takes up what the dead one
    held (its row locks went with its connection), and work accepted while the broker was
    down is sent as soon as it answers, not at the next beat tick."""

    requires = {"celery.worker.consumer.tasks:Tasks"}
    # Everything at once: a row a live worker has just claimed but not yet locked may be
    # claimed again, which costs it an attempt, never a double settlement (the lock decides).
    RECOVERY_STALE_AFTER_SECONDS = 0.0

    def start(self, consumer) -> None:
        from kernel.tasks import task_publish

        task_publish("activation.tasks.transactions_sweep_task", args=[self.RECOVERY_STALE_AFTER_SECONDS])
        task_publish("notifications.tasks.notifications_sweep_task", args=[self.RECOVERY_STALE_AFTER_SECONDS])
        task_publish("partners.tasks.partner_callbacks_sweep_task", args=[self.RECOVERY_STALE_AFTER_SECONDS])


app.steps["consumer"].add(RecoveryOnBrokerConnect)


class PromptReconnectConsumer(Consumer):
    """Celery's consumer, retrying a lost broker every second instead of kombu's 2, 4, 6 ... 30 s:
    after a 30 s Redis outage the stock worker could stay away another 30 s (CELERY_WORKER_CONSUMER)."""

    RECONNECT_INTERVAL_SECONDS = 1.0

    def ensure_connected(self, conn):
        conn.ensure_connection = functools.partial(
            type(conn).ensure_connection, conn, interval_start=0, interval_step=self.RECONNECT_INTERVAL_SECONDS,
            interval_max=self.RECONNECT_INTERVAL_SECONDS)
        return super().ensure_connected(conn)


# Database connections of a worker live across tasks (CELERY_DB_REUSE_MAX) and are recycled
# as Django recycles them between requests: past CONN_MAX_AGE, or once unusable (a restarted
# PostgreSQL), so the next task reconnects instead of failing. (Not for a task run eagerly
# with .apply(): that runs inside the caller's own database transaction.)
#
# Django's health check (CONN_HEALTH_CHECKS) costs a `SELECT 1` round trip before the first
# query of every task. A task that retries on connection errors (autoretry_for includes
# OperationalError) skips it while its process's connection answered within the last
# DB_HEALTH_CHECK_TRUSTED_MS: if PostgreSQL restarted in that window the task fails
# on its first query, the connection is closed as unusable, and the retry reconnects. The
# settlement task is one: at low load it runs once per activation, and the check would be one
# of its dozen round trips.
_db_answered_at: dict[str, float] = {}


def _is_eager(task) -> bool:
    return task is not None and getattr(task.request, "is_eager", False)


def _retries_on_db_errors(task) -> bool:
    return any(issubclass(OperationalError, kind) for kind in getattr(task, "autoretry_for", ()) or ())


@task_prerun.connect
def _db_connections_recycle_before(task=None, **kwargs):
    from django.conf import settings
    from django.db import close_old_connections, connections

    if _is_eager(task):
        return
    close_old_connections()
    if task is None or not _retries_on_db_errors(task):
        return
    trusted_since = time.monotonic() - settings.DB_HEALTH_CHECK_TRUSTED_MS / 1000
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and _db_answered_at.get(conn.alias, float("-inf")) >= trusted_since:
            conn.health_check_done = True


@task_postrun.connect
def _db_connections_recycle_after(task=None, **kwargs):
    from django.db import close_old_connections, connections

    if _is_eager(task):
        return
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.errors_occurred:
            _db_answered_at[conn.alias] = now
        else:
            _db_answered_at.pop(conn.alias, None)
    close_old_connections()


# Startup objects leave the garbage collector's full passes (config/gc_freeze.py): in each
# prefork child once it is initialised, and in the main process (which receives and acks the
# messages; with the solo pool it runs the tasks too) once the worker is ready.
@worker_process_init.connect
def _worker_child_startup_objects_freeze(**kwargs):
    from config.gc_freeze import startup_objects_freeze

    startup_objects_freeze()


@worker_ready.connect
def _worker_main_startup_objects_freeze(**kwargs):
    from config.gc_freeze import startup_objects_freeze

    startup_objects_freeze()


# Metrics of a worker (see monitoring/exporter.py): its main process serves them for the
# main process and every prefork child, and keeps a heartbeat for offers_workers_alive.
# Its PROMETHEUS_MULTIPROC_DIR is emptied by whoever starts it (scripts/run.sh, the test
# fixtures, a tmpfs in docker-compose): by the time a signal fires here the main process
# already holds its own metric file open.
@worker_ready.connect
def _worker_metrics_start(sender=None, **kwargs):
    from monitoring.exporter import worker_metrics_start

    queues = []
    try:
        queues = [queue.name for queue in sender.task_consumer.queues]
    except Exception:
        queues = list(app.amqp.queues.consume_from or app.amqp.queues)
    worker_metrics_start(hostname=sender.hostname, queues=queues,
                         task_names=[name for name in app.tasks if not name.startswith("celery.")])


@worker_shutdown.connect
def _worker_metrics_stop(sender=None, **kwargs):
    from monitoring.exporter import worker_metrics_stop

    worker_metrics_stop(hostname=getattr(sender, "hostname", "") or "")


@worker_process_shutdown.connect
def _worker_child_metrics_dead(pid=None, **kwargs):
    from monitoring.exporter import process_dead

    process_dead(pid or os.getpid())
