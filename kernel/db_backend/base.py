"""PostgreSQL with django_prometheus's query metrics, counted for less.

django_prometheus's cursor wrapper looks up its metrics' labelled children on every
statement (`labels()` takes a lock and builds a key, three times per statement) and builds a
timer and an exception counter per call: 12-26 µs per statement, a third to half of a
prepared statement's ~41 µs round trip to PostgreSQL; this backend's lookups cost 1-2 µs
(docs/PERFORMANCE.md#query-metrics-backend). This backend counts the same series
with the same labels (django_db_execute_total, django_db_execute_many_total,
django_db_query_duration_seconds, django_db_errors_total) with the children looked up once
per cursor class; everything else is django_prometheus's
PostgreSQL backend (new connections and their errors are counted there)."""
from __future__ import annotations

import functools
from time import perf_counter

from django.db.backends.postgresql import base as django_base
from django_prometheus.db import errors_total, execute_many_total, execute_total, query_duration_seconds
from django_prometheus.db.backends.postgresql import base as prometheus_base


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


class DatabaseWrapper(prometheus_base.DatabaseWrapper):
    def get_connection_params(self):
        params = django_base.DatabaseWrapper.get_connection_params(self)
        params["cursor_factory"] = metered_cursor_class(params["cursor_factory"], self.alias, self.vendor)
        return params
