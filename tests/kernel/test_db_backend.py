"""The database backend (kernel/db_backend) counts every statement in django_prometheus's
series, with the same names and labels as django_prometheus's own backend, for Django's
cursors and the prepared hot-path cursor alike."""
import pytest
from django.db import ProgrammingError, connection, connections
from django_prometheus.db import errors_total, execute_many_total, execute_total, query_duration_seconds

from kernel.prepared_sql import prepared_cursor

pytestmark = pytest.mark.django_db

LABELS = {"alias": "default", "vendor": "postgresql"}


def _sample(metric, name: str, **labels) -> float:
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def _counts() -> tuple[float, float]:
    return (_sample(execute_total, "django_db_execute_total", **LABELS),
            _sample(query_duration_seconds, "django_db_query_duration_seconds_count", **LABELS))


def test_the_backend_is_django_prometheus_postgresql_with_the_metered_cursor():
    db = connections["default"]
    assert db.vendor == "postgresql"
    assert type(db).__module__ == "kernel.db_backend.base"
    db.ensure_connection()
    assert db.connection.cursor_factory.__name__.startswith("Metered")


@pytest.mark.parametrize("cursor_of", [lambda: connection.cursor(), prepared_cursor], ids=["django", "prepared"])
def test_each_statement_is_counted_and_timed(cursor_of):
    executed, timed = _counts()

    with cursor_of() as cursor:
        cursor.execute("SELECT %s::int", [1])
        cursor.execute("SELECT %s::int", [2])

    assert _counts() == (executed + 2, timed + 2)


def test_a_failing_statement_is_counted_by_its_error_type():
    before = _sample(errors_total, "django_db_errors_total", type="UndefinedTable", **LABELS)
    executed, timed = _counts()

    with pytest.raises(ProgrammingError):  # a django.db error for the caller, as before
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM no_such_table")

    assert _sample(errors_total, "django_db_errors_total", type="UndefinedTable", **LABELS) == before + 1
    assert _counts() == (executed + 1, timed + 1)


def test_executemany_counts_every_parameter_set():
    executed = _counts()[0]
    many = _sample(execute_many_total, "django_db_execute_many_total", **LABELS)

    with connection.cursor() as cursor:
        cursor.executemany("SELECT %s::int", ([n] for n in range(3)))  # a generator is fine too

    assert _counts()[0] == executed + 3
    assert _sample(execute_many_total, "django_db_execute_many_total", **LABELS) == many + 3
