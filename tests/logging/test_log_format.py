"""The log line format: JSON by default with timestamp, level, logger, message and the ids
of its context; plain text on request; the same configuration in Django and Celery."""
import io
import json
import logging
import logging.config
from datetime import datetime

import pytest
from django.conf import settings

from kernel.log_format import logging_config
from kernel.request_id import request_id_bound, task_id_var, task_name_var


@pytest.fixture
def log_output():
    """A logger configured by logging_config, writing to a buffer instead of stderr."""
    def configure(log_format: str) -> tuple[logging.Logger, io.StringIO]:
        config = logging_config(log_format=log_format, level="INFO")
        buffer = io.StringIO()
        config["handlers"]["console"]["stream"] = buffer
        config["root"] = {"handlers": [], "level": "INFO"}
        config["loggers"] = {"tests.logging.sample": {"handlers": ["console"], "level": "INFO", "propagate": False}}
        logging.config.dictConfig(config)
        return logging.getLogger("tests.logging.sample"), buffer

    yield configure
    logging.config.dictConfig(settings.LOGGING)


def test_a_json_line_has_the_fields_and_the_request_id_of_its_context(log_output):
    # given
    logger, out = log_output("json")

    # when
    logger.info("outside any request")
    with request_id_bound("rid-1"):
        logger.warning("accepted %s", "it", extra={"transaction_id": "t-1"})

    # then: one JSON object per line
    outside, inside = [json.loads(line) for line in out.getvalue().splitlines()]
    assert outside["message"] == "outside any request" and "request_id" not in outside
    assert inside["message"] == "accepted it"
    assert (inside["level"], inside["logger"]) == ("WARNING", "tests.logging.sample")
    assert (inside["request_id"], inside["transaction_id"]) == ("rid-1", "t-1")
    assert datetime.fromisoformat(inside["timestamp"]).utcoffset().total_seconds() == 0


def test_a_line_inside_a_task_names_it_and_an_explicit_request_id_wins(log_output):
    # given: the worker's context while it runs a settlement task
    logger, out = log_output("json")
    name, task_id = task_name_var.set("activation.tasks.transaction_settle_task"), task_id_var.set("task-9")
    try:
        # when: a line about one transaction names that transaction's request
        logger.info("transaction finished", extra={"request_id": "rid-of-the-row"})
    finally:
        task_name_var.reset(name)
        task_id_var.reset(task_id)

    # then
    line = json.loads(out.getvalue())
    assert line["task_name"] == "activation.tasks.transaction_settle_task" and line["task_id"] == "task-9"
    assert line["request_id"] == "rid-of-the-row"


def test_an_exception_stays_on_its_json_line(log_output):
    logger, out = log_output("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    [line] = out.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exc_info"]


def test_the_plain_format_appends_the_context(log_output):
    # given
    logger, out = log_output("plain")

    # when
    with request_id_bound("rid-2"):
        logger.info("hello", extra={"status": "SUCCEEDED", "transaction_id": "t-2", "failure_code": ""})

    # then: the context first, then the other fields that have a value
    line = out.getvalue().strip()
    assert line.endswith("INFO tests.logging.sample hello request_id=rid-2 transaction_id=t-2 status=SUCCEEDED"), line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError):
        logging_config(log_format="xml")


def test_the_settings_default_to_json_with_the_context_filter_and_server_loggers_through_it():
    assert settings.LOG_FORMAT == "json"
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["formatter"] == "json" and handler["filters"] == ["context"]
    assert settings.LOGGING["loggers"]["gunicorn.error"]["propagate"] is True
    assert settings.MIDDLEWARE[0] == "kernel.request_id.RequestIdMiddleware"
