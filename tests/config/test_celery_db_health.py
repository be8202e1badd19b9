"""Which tasks skip Django's per-task `SELECT 1` health check (config/celery.py): only those
that retry on connection errors, and only while their connection answered recently."""
from types import SimpleNamespace

import pytest
from django.db import InterfaceError, OperationalError, connection

from config.celery import _db_connections_recycle_after, _db_connections_recycle_before

pytestmark = pytest.mark.django_db(transaction=True)  # close_old_connections drops a connection left in a transaction


def _task(*retries_on):
    return SimpleNamespace(request=SimpleNamespace(is_eager=False), autoretry_for=retries_on)


def _skips_check_after(previous, task, *, window_ms: int, settings) -> bool:
    """Runs `previous` (its postrun records that the connection answered), then `task`'s
    prerun with a trust window of `window_ms`; True if `task` skips the health check. A fresh
    connection: one older than CONN_MAX_AGE (opened by tests that ran before) is closed by
    the prerun as obsolete, whatever the trust."""
    connection.close()
    connection.ensure_connection()
    _db_connections_recycle_before(task=previous)
    _db_connections_recycle_after(task=previous)
    settings.DB_HEALTH_CHECK_TRUSTED_MS = window_ms
    _db_connections_recycle_before(task=task)
    return connection.health_check_done


def test_a_task_that_retries_on_connection_errors_trusts_a_connection_that_just_answered(settings):
    settlement_like = _task(OperationalError, InterfaceError)
    assert _skips_check_after(settlement_like, settlement_like, window_ms=1000, settings=settings) is True


def test_it_checks_again_once_the_connection_was_quiet_for_longer_than_the_window(settings):
    settlement_like = _task(OperationalError, InterfaceError)
    assert _skips_check_after(settlement_like, settlement_like, window_ms=0, settings=settings) is False


def test_a_task_that_would_not_retry_always_pays_the_health_check(settings):
    assert _skips_check_after(_task(OperationalError), _task(), window_ms=1000, settings=settings) is False


def test_a_connection_that_raised_is_not_trusted(settings):
    # given: the previous task's connection saw an error
    connection.ensure_connection()
    connection.errors_occurred = True
    _db_connections_recycle_after(task=_task(OperationalError))

    # when / then: the next task checks
    _db_connections_recycle_before(task=_task(OperationalError))
    assert connection.health_check_done is False
