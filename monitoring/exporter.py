"""How metrics leave each process type (see docs/ARCHITECTURE.md, "Metrics").

web:    /metrics (one Django view) sums the multiprocess files of every gunicorn/uvicorn
        worker and adds the scrape-time collectors.
worker: each `celery worker` runs a small HTTP exporter in its main process
        (WORKER_METRICS_PORT) that sums the files of the main process and its prefork
        children; it also keeps a heartbeat key in the broker for offers_workers_alive.

process_* (CPU, resident memory, open fds): prometheus_client's ProcessCollector reports only
the process it runs in, and the multiprocess registry leaves it out. Each exporter reports
instead every process of its type (ProcessTreeCollector): one series per pid, read from /proc
at scrape time.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, ProcessCollector, multiprocess, start_http_server
from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def multiprocess_dir_wipe() -> None:
    """At process-type start: files of a previous run would be summed in forever."""
    path = multiprocess_dir()
    if not path:
        return
    directory = Path(path)
    if directory.exists():
        for child in directory.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)


def process_registry() -> CollectorRegistry:
    """Every process of this type, summed (multiprocess mode), or this process alone."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(ProcessTreeCollector(multiprocess_dir()))
        return registry
    return REGISTRY  # with prometheus_client's own ProcessCollector


PROC = Path("/proc")


def processes_sharing_multiprocess_dir(directory: str) -> list[int]:
    """The pids of this process type: those started with the same PROMETHEUS_MULTIPROC_DIR
    (gunicorn's master and its workers; a Celery worker's main process and its prefork
    children). Forked children report their parent's environment, which is what we want."""
    wanted = f"PROMETHEUS_MULTIPROC_DIR={directory}".encode()
    pids = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if wanted in environment.split(b"\0"):
            pids.append(int(entry.name))
    return sorted(pids)


class ProcessTreeCollector:
    """process_cpu_seconds_total, process_resident_memory_bytes, ... of every process of this
    type, labelled by pid: dashboards sum them by job (a CPU counter summed across processes
    would drop whenever a process exits and read as a reset)."""

    def __init__(self, directory: str):
        self.directory = directory

    def collect(self):
        families: dict[str, Metric] = {}
        for pid in processes_sharing_multiprocess_dir(self.directory):
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(family.name, family.documentation, family.type)
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        return list(families.values())


def web_registry() -> CollectorRegistry:
    from monitoring.collectors import PlatformCollector

    registry = CollectorRegistry()
    registry.register(_Chain(process_registry()))
    registry.register(PlatformCollector())
    return registry


class _Chain:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def process_dead(pid: int) -> None:
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


# --- Celery worker ---------------------------------------------------------------------------

_heartbeat_stop = threading.Event()


def worker_metrics_start(*, hostname: str, queues: list[str], task_names: list[str]) -> None:
    """Called from config/celery.py when a worker is ready (main process only)."""
    from django.conf import settings

    from monitoring import metrics

    metrics.task_labels_initialise(task_names)
    port = int(os.environ.get("WORKER_METRICS_PORT", "0") or 0)
    if port:
        address = os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1")
        start_http_server(port, addr=address, registry=process_registry())
        logger.info("worker metrics on http://%s:%d/metrics", address, port)
    interval = settings.WORKER_HEARTBEAT_SECONDS
    thread = threading.Thread(target=_heartbeat_loop, name="metrics-heartbeat", daemon=True,
                              args=(hostname or socket.gethostname(), sorted(set(queues)), interval))
    thread.start()


def worker_metrics_stop(*, hostname: str) -> None:
    from monitoring.collectors import WORKER_HEARTBEAT_PREFIX, broker_client

    _heartbeat_stop.set()
    try:
        broker_client().delete(f"{WORKER_HEARTBEAT_PREFIX}{hostname}")
    except Exception as exc:
        logger.warning("could not remove the worker heartbeat: %r", exc)


def _heartbeat_loop(hostname: str, queues: list[str], interval: float) -> None:
    from monitoring.collectors import WORKER_HEARTBEAT_PREFIX, broker_client

    key = f"{WORKER_HEARTBEAT_PREFIX}{hostname}"
    value = json.dumps({"queues": queues, "pid": os.getpid()})
    while not _heartbeat_stop.is_set():
        try:
            broker_client().set(key, value, ex=max(int(interval * 3), 3))
        except Exception as exc:  # broker down: the key expires, workers_alive drops
            logger.warning("worker heartbeat failed: %r", exc)
        _heartbeat_stop.wait(interval)
