"""The access log: one line per request answered by Django, written by the request-id
middleware with the request's id (kernel/request_id.py); ACCESS_LOG=0 turns it off."""
import logging

import pytest

pytestmark = pytest.mark.django_db


def _access_records(caplog):
    return [r for r in caplog.records if r.name == "access"]


def test_each_request_leaves_one_access_line_with_its_id(client, caplog):
    # when
    with caplog.at_level(logging.INFO, logger="access"):
        response = client.get("/api/v1/offers/no-such/", HTTP_X_REQUEST_ID="rid-access-1")

    # then
    (record,) = _access_records(caplog)
    assert (record.method, record.path, record.status) == ("GET", "/api/v1/offers/no-such/", response.status_code)
    assert record.request_id == "rid-access-1" and record.duration_ms >= 0


def test_access_log_off_writes_nothing(client, caplog):
    with caplog.at_level(logging.WARNING, logger="access"):
        client.get("/health/")

    assert _access_records(caplog) == []


def test_the_setting_sets_the_access_logger_level(monkeypatch):
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("ACCESS_LOG", "0")
    try:
        assert importlib.reload(base).LOGGING["loggers"]["access"]["level"] == "WARNING"
        monkeypatch.setenv("ACCESS_LOG", "1")
        assert importlib.reload(base).LOGGING["loggers"]["access"]["level"] == "INFO"
    finally:
        monkeypatch.delenv("ACCESS_LOG")
        importlib.reload(base)
