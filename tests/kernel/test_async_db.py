"""kernel/async_db.py: an async view's database work, on the loop's executor with its
connection closed (given back to the pool) when it returns; on a sync caller's own thread,
whose connection the request owns."""
import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections

from kernel.async_db import database_call

pytestmark = pytest.mark.django_db(transaction=True)  # the executor's thread has a connection of its own


def _read_on_this_thread(seen: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        seen.update(thread=threading.get_ident(), connection=connections["default"])  # this thread's own
        return cursor.fetchone()[0]


def test_from_the_event_loop_it_runs_on_the_executor_and_gives_its_connection_back():
    seen = {}

    # when: called from a loop with no sync caller above it (the ASGI server's case)
    answer = asyncio.run(database_call(_read_on_this_thread, seen))

    # then: another thread read, and its connection is closed
    assert answer == 1
    assert seen["thread"] != threading.get_ident()
    assert seen["connection"].connection is None


def test_under_a_sync_caller_it_runs_on_the_callers_thread_and_keeps_its_connection():
    seen = {}

    # when: called through async_to_sync (a WSGI server or Django's test client)
    answer = async_to_sync(database_call)(_read_on_this_thread, seen)

    # then: the caller's thread read, and the request's connection stays open for the request
    assert answer == 1
    assert seen["thread"] == threading.get_ident()
    assert connection.connection is not None
