"""PostgreSQL with django_prometheus's query metrics, counted for less.

django_prometheus's cursor wrapper looks up its metrics' labelled children on every
statement (`labels()` takes a lock and builds a key, three times per statement) and builds a
timer and an exception counter per call: 12-26 µs per statement, a third to half of a
prepared statement's ~41 µs round trip to PostgreSQL; this backend's lookups cost 1-2 µs
(docs/PERFORMANCE.md#query-metrics-backend). This backend counts the same series
with the same labels (django_db_execute_total, django_db_execute_many_total,
django_db_query_duration_seconds, django_db_errors_total) with the children looked up once
per cursor class; everything else is django_prometheus's
PostgreSQL backend (new connections and their errors are counted there).

With `OPTIONS["circuit"]` (web processes, next to the pool: config.settings.base.
database_pool_enable) connections go through the database circuit (kernel/db_backend/circuit.py):
while PostgreSQL cannot be reached a request fails at once instead of waiting on the pool."""
from __future__ import annotations

import functools
import threading
from time import perf_counter

import psycopg
from django.db.backends.postgresql import base as django_base
from django_prometheus.db import errors_total, execute_many_total, execute_total, query_duration_seconds
from django_prometheus.db.backends.postgresql import base as prometheus_base
from psycopg_pool import ConnectionPool

from kernel.db_backend.circuit import DatabaseCircuit
from kernel.db_backend.watchdog import stall_watchdog


@functools.cache
def metered_cursor_class(cursor_class: type, alias: str, vendor: str) -> type:
    """`cursor_class`, counting its statements in django_prometheus's metrics."""
    executed = execute_total.labels(alias, vendor)
    executed_many = execute_many_total.labels(alias, vendor)
    duration = query_duration_seconds.labels(alias, vendor)

    class MeteredCursor(cursor_class):
        def execute(self, *args, **kwargs):
            executed.inc()
            started = perf_counter()
            try:
                return super().execute(*args, **kwargs)
            except Exception as exc:
                errors_total.labels(alias, vendor, type(exc).__name__).inc()
                raise
            finally:
                duration.observe(perf_counter() - started)

        def executemany(self, query, params_seq, *args, **kwargs):
            params_seq = list(params_seq)
            executed.inc(len(params_seq))
            executed_many.inc(len(params_seq))
            started = perf_counter()
            try:
                return super().executemany(query, params_seq, *args, **kwargs)
            except Exception as exc:
                errors_total.labels(alias, vendor, type(exc).__name__).inc()
                raise
            finally:
                duration.observe(perf_counter() - started)

    MeteredCursor.__name__ = MeteredCursor.__qualname__ = f"Metered{cursor_class.__name__}"
    return MeteredCursor


_circuits: dict[str, DatabaseCircuit] = {}
_circuits_lock = threading.Lock()


class DatabaseWrapper(prometheus_base.DatabaseWrapper):
    def get_connection_params(self):
        params = django_base.DatabaseWrapper.get_connection_params(self)
        params.pop("circuit", None)
        params["cursor_factory"] = metered_cursor_class(params["cursor_factory"], self.alias, self.vendor)
        return params

    # --- the circuit (web processes, with the pool) ------------------------------------------

    @property
    def circuit(self) -> DatabaseCircuit | None:
        """This process's circuit for this database; None where it is off (workers, commands)."""
        options = self.settings_dict["OPTIONS"].get("circuit")
        if not options or not self.settings_dict["OPTIONS"].get("pool"):
            return None
        if (circuit := _circuits.get(self.alias)) is not None:
            return circuit
        with _circuits_lock:
            return _circuits.setdefault(self.alias, DatabaseCircuit(
                name=self.alias, probe=lambda: _database_answers(self.get_connection_params()),
                while_open=self.pool_discard, probe_seconds=options["probe_seconds"]))

    @property
    def pool(self):
        """With the circuit, the pool is built here: its connection attempts report to the
        circuit, and it has no `check` (get_new_connection checks without the pool's 1 s
        sleep after a failed check)."""
        circuit = self.circuit
        if circuit is None:
            return super().pool
        if self.alias not in self._connection_pools:
            pool = ConnectionPool(kwargs={**self.get_connection_params(), "autocommit": True}, open=False,
                                  configure=self._configure_connection,
                                  connection_class=circuit.reporting(psycopg.Connection),
                                  **self.settings_dict["OPTIONS"]["pool"])
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]

    _in_use_ticket: int | None = None

    def _close(self):
        if self._in_use_ticket is not None:
            stall_watchdog.unwatch(self._in_use_ticket)
            self._in_use_ticket = None
        return super()._close()

    @property
    def _check_seconds(self) -> float:
        return self.settings_dict["OPTIONS"]["circuit"]["check_seconds"]

    def pool_discard(self) -> None:
        """Closes this process's pool and forgets it (the next connection builds a new one):
        its waiting clients fail at once, connections in use are closed when returned."""
        pool = self._connection_pools.pop(self.alias, None)
        if pool is not None:
            pool.close()

    def get_new_connection(self, conn_params):
        circuit = self.circuit
        if circuit is None:
            return super().get_new_connection(conn_params)
        try:
            # A pooled connection cut while idle (PostgreSQL restarted) fails this check and is
            # dropped; once none is left the pool connects anew, or fails and opens the circuit.
            # A pool built just as the circuit opened is discarded by the probe thread within
            # `probe_seconds`, failing whoever waits on it.
            checks_failed = 0
            while True:
                circuit.guard()
                connection = super().get_new_connection(conn_params)
                pool = connection._pool
                try:
                    # Checked on every checkout, even one used a moment ago: this check is what
                    # notices a stall and cuts the connections in use (tests/faults/test_network_faults.py).
                    # A stalled server (frozen, or a network path holding its packets) answers
                    # neither the check nor a refusal: the watchdog cuts the check at its
                    # deadline, and the circuit opens as for a refused connection.
                    with stall_watchdog.watching(connection.fileno(), seconds=self._check_seconds):
                        ConnectionPool.check_connection(connection)
                    self._in_use_ticket = stall_watchdog.watch(connection.fileno())
                    return connection
                except psycopg.Error as exc:
                    pool.putconn(connection)
                    if connection.closed:  # cut by the watchdog, or found dead
                        circuit.connection_failed(exc)
                        stall_watchdog.cut_all()
                    checks_failed += 1
                    if checks_failed > pool.max_size:
                        raise
        except psycopg.OperationalError:
            circuit.guard()  # opened meanwhile: say so
            raise


def _database_answers(params: dict) -> None:
    """The circuit's probe: a direct connection (bounded by connect_timeout) and one query."""
    with psycopg.connect(**params) as connection:
        connection.execute("SELECT 1")
