"""The database circuit of a web process: while PostgreSQL cannot be reached, fail at once.

Closed (normal): connections come from the process's pool. A failed connection attempt (the
pool connects in the background, so the pool's own attempts count) opens it. Open: asking for
a connection raises `OperationalError` at once, which kernel.errors answers as a 503 with
Retry-After, instead of waiting for the pool's timeout. One probe thread per process then,
every `probe_seconds`, runs `while_open` (the backend discards its pool there: the clients already
waiting on it fail at once, and the pool's reconnection backoff, which grows to minutes, goes
with it) and tries a direct connection; when PostgreSQL answers it closes the circuit, and the
next request builds a fresh pool.

Web processes only: `config.settings.base.database_pool_enable` turns it on with the pool.
A Celery worker has no client waiting: it connects directly (a stopped server refuses at
once; a connection attempt is bounded by DB_CONNECT_TIMEOUT) and its tasks retry with backoff
(kernel.tasks.DATABASE_RETRY_POLICY). A circuit there would only refuse those retries for up to
`probe_seconds` after PostgreSQL is back.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import psycopg

logger = logging.getLogger(__name__)


class DatabaseCircuit:
    def __init__(self, *, name: str, probe: Callable[[], None], while_open: Callable[[], None],
                 probe_seconds: float):
        self.name = name
        self.probe_seconds = probe_seconds
        self._probe = probe
        self._while_open = while_open
        self._lock = threading.Lock()
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def guard(self) -> None:
        """Raises at once while the circuit is open."""
        opened_at = self._opened_at
        if opened_at is not None:
            raise psycopg.OperationalError(
                f"PostgreSQL ({self.name}) is unreachable: the circuit opened {time.monotonic() - opened_at:.1f} s "
                f"ago and probes every {self.probe_seconds} s")

    def connection_failed(self, exc: BaseException) -> None:
        """A connection attempt failed: open the circuit (once) and start probing."""
        with self._lock:
            if self._opened_at is not None:
                return
            self._opened_at = time.monotonic()
        logger.warning("database circuit %s open: %r", self.name, exc)
        threading.Thread(target=self._probe_until_answered, name=f"db-circuit-{self.name}", daemon=True).start()

    def _probe_until_answered(self) -> None:
        while True:
            # Before every probe, not only once, and once more before closing: a pool a request
            # built as the circuit opened would keep its clients waiting for its timeout, or keep
            # its reconnection backoff after PostgreSQL is back.
            self._while_open_run()
            time.sleep(self.probe_seconds)
            try:
                self._probe()
            except Exception as exc:
                logger.info("database circuit %s: probe failed: %r", self.name, exc)
                continue
            self._while_open_run()
            with self._lock:
                opened_for = time.monotonic() - self._opened_at
                self._opened_at = None
            logger.warning("database circuit %s closed after %.1f s", self.name, opened_for)
            return

    def _while_open_run(self) -> None:
        try:
            self._while_open()
        except Exception as exc:  # the probe must go on whatever happened to the pool
            logger.warning("database circuit %s: while_open failed: %r", self.name, exc)

    def reporting(self, connection_class: type[psycopg.Connection]) -> type[psycopg.Connection]:
        """`connection_class`, whose failed connection attempts open this circuit (for a pool's
        `connection_class`: the pool connects in its own threads)."""
        circuit = self

        class CircuitReportingConnection(connection_class):
            @classmethod
            def connect(cls, *args, **kwargs):
                try:
                    return super().connect(*args, **kwargs)
                except psycopg.OperationalError as exc:
                    circuit.connection_failed(exc)
                    raise

        return CircuitReportingConnection
