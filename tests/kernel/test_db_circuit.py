"""The database circuit (kernel/db_backend/circuit.py): one failed connection attempt opens it,
requests then fail at once, one probe thread closes it when PostgreSQL answers. Against the
real test PostgreSQL, through the backend's own pool; "down" is a port nothing listens on."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import OperationalError, connection, connections

from config.settings.base import database_pool_enable
from kernel.db_backend import base as backend
from kernel.db_backend.circuit import DatabaseCircuit

ALIAS = "circuit-test"


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connecting is refused


@pytest.fixture
def web_database():
    """A connection with the web server's settings (pool and circuit) to the test database,
    under an alias of its own; its pool and circuit are gone afterwards."""
    settings_dict = {**connections["default"].settings_dict}
    settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"]}
    databases = {"default": settings_dict}
    database_pool_enable(databases)
    wrapper = backend.DatabaseWrapper(settings_dict, alias=ALIAS)
    yield wrapper
    wrapper.close()
    wrapper.pool_discard()
    backend._circuits.pop(ALIAS, None)


def wait_for(predicate, timeout: float = 5) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout
        time.sleep(0.01)
    return time.monotonic() - started


def test_workers_and_commands_have_no_circuit():
    # the test process, like a Celery worker, runs without the pool (DB_POOL unset)
    assert connection.circuit is None


@pytest.mark.django_db
def test_the_web_connection_is_pooled_and_its_connects_report_to_the_circuit(web_database):
    # when
    web_database.ensure_connection()

    # then
    assert web_database.circuit is not None and not web_database.circuit.is_open
    assert web_database.connection._pool is web_database.pool
    assert web_database.pool.connection_class.__name__ == "CircuitReportingConnection"
    with web_database.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_postgres_unreachable_fails_at_once_and_a_probe_closes_the_circuit_when_it_answers(web_database):
    # given: PostgreSQL "down" (its port refuses)
    real_port = web_database.settings_dict["PORT"]
    web_database.settings_dict["PORT"] = str(_dead_port())

    # when: the first connection, then 20 more from as many threads
    started = time.monotonic()
    with pytest.raises(OperationalError):
        web_database.ensure_connection()
    first = time.monotonic() - started

    def attempt(_):
        wrapper = backend.DatabaseWrapper(web_database.settings_dict, alias=ALIAS)
        began = time.monotonic()
        try:
            wrapper.ensure_connection()
        except OperationalError as exc:
            return time.monotonic() - began, str(exc)
        return time.monotonic() - began, "connected"

    with ThreadPoolExecutor(max_workers=20) as pool:
        attempts = list(pool.map(attempt, range(20)))

    # then: a django.db error (the 503 of kernel.errors) without waiting on the pool, one probe thread
    assert first < 1.0, first
    assert all(seconds < 0.5 and "circuit opened" in message for seconds, message in attempts), attempts
    assert web_database.circuit.is_open
    assert [t.name for t in threading.enumerate()].count(f"db-circuit-{ALIAS}") == 1

    # when: PostgreSQL answers again
    web_database.settings_dict["PORT"] = real_port
    closed_after = wait_for(lambda: not web_database.circuit.is_open)

    # then: closed within a probe or two, and a fresh pool serves
    assert closed_after < 2 * web_database.circuit.probe_seconds + 1
    web_database.ensure_connection()
    with web_database.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert f"db-circuit-{ALIAS}" not in [t.name for t in threading.enumerate()]


def test_the_probe_runs_one_at_a_time_and_discards_what_was_built_while_open():
    # given: a database that answers the third probe
    probes, discards = [], []

    def probe():
        probes.append(time.monotonic())
        if len(probes) < 3:
            raise psycopg.OperationalError("refused")

    circuit = DatabaseCircuit(name="unit", probe=probe, while_open=lambda: discards.append(1), probe_seconds=0.05)

    # when: 50 failures at once
    with ThreadPoolExecutor(max_workers=25) as pool:
        list(pool.map(lambda _: circuit.connection_failed(psycopg.OperationalError("refused")), range(50)))
    with pytest.raises(psycopg.OperationalError, match="circuit opened"):
        circuit.guard()
    wait_for(lambda: not circuit.is_open)

    # then: one probe loop, probing every probe_seconds, discarding before each probe and before closing
    assert len(probes) == 3 and len(discards) == 4
    assert all(b - a >= 0.05 for a, b in zip(probes, probes[1:]))
    circuit.guard()  # closed: no error

