"""How every process logs: one line per record, JSON by default (LOG_FORMAT=json) or plain
text for a developer's terminal (LOG_FORMAT=plain), each carrying the context it was
written in: request_id, and task_name / task_id inside a Celery task. transaction_id and
other ids come with the record (`extra=`) where a line is about one transaction.

`logging_config` builds the dictConfig; Django's LOGGING (config/settings/base.py) is it,
Celery's processes apply Django's (config/celery.py), and gunicorn can take it as its
`logconfig_dict`. Imports nothing of Django: gunicorn's master reads it before any app."""
from __future__ import annotations

import logging

from pythonjsonlogger.core import RESERVED_ATTRS

from kernel.request_id import request_id_var, task_id_var, task_name_var

LOG_FORMATS = ("json", "plain")
# gunicorn and uvicorn give their error loggers handlers of their own and stop them
# propagating; named here, they lose those and write through the root's handler instead
# (the access log is left to the server's configuration).
SERVER_LOGGERS = {"gunicorn.error": {"level": "INFO", "propagate": True},
                  "uvicorn.error": {"level": "INFO", "propagate": True}}
# The context fields, in the order the plain format appends them.
CONTEXT_FIELDS = ("request_id", "transaction_id", "task_name", "task_id")


class LogContextFilter(logging.Filter):
    """Adds the context's ids to each record, unless the record brings its own (`extra=`):
    a settlement line names the request of its transaction, not of the task. Fields with
    no value are left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id_var), ("task_name", task_name_var), ("task_id", task_id_var)):
            if name not in record.__dict__:
                value = var.get()
                if value:
                    setattr(record, name, value)
        return True


_NOT_EXTRA = frozenset((*RESERVED_ATTRS, "message", "asctime", "color_message"))


class PlainFormatter(logging.Formatter):
    """`<time> <level> <logger> <message> request_id=... transaction_id=... <other extras>`
    for a terminal: the same fields as the JSON line, the context's first."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = record.__dict__
        names = [*(n for n in CONTEXT_FIELDS if n in fields),
                 *(n for n in fields if n not in _NOT_EXTRA and n not in CONTEXT_FIELDS and not n.startswith("_"))]
        context = " ".join(f"{name}={fields[name]}" for name in names if fields[name] not in (None, ""))
        if not context:
            return line
        head, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} {context}{newline}{rest}"


def logging_config(*, log_format: str = "json", level: str = "INFO", extra_loggers: dict | None = None) -> dict:
    """A logging.config.dictConfig: the root logger to stderr in `log_format`."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    formatters = {
        "json": {
            # python-json-logger's formatter on orjson (kernel.fastjson's encoder): a third less
            # CPU per line than its json one; settlement writes a line per transaction.
            "()": "pythonjsonlogger.orjson.OrjsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],  # uvicorn's message again, with ANSI colours
        },
        "plain": {"()": "kernel.log_format.PlainFormatter"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "kernel.log_format.LogContextFilter"}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}, **(extra_loggers or {})},
    }
