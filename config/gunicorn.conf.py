"""gunicorn as the process manager, uvicorn workers serving config/asgi.py (the status route on
Django's ASGI handler, every other request on its WSGI handler over a thread pool)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, whatever the working directory
from kernel.log_format import SERVER_LOGGERS, logging_config  # noqa: E402

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 60
# A stopping worker lets its requests finish: longer than the longest long-poll (LONG_POLL_MAX_SECONDS, 30 s)
# plus headroom. Compose's stop_grace_period for web must exceed it (tests/config/test_compose_contract.py).
graceful_timeout = 35
keepalive = 5
# The proxies whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes: for a request from one
# of them, the client address becomes the nearest address in X-Forwarded-For that is not a trusted
# proxy. DRF's throttles key on that address as it is (NUM_PROXIES = 0 in config/settings/base.py:
# X-Forwarded-For is read here and nowhere else). Default: no proxy. gunicorn's and uvicorn's own
# default, 127.0.0.1, let any client reaching the server over the loopback name itself in
# X-Forwarded-For and get a fresh throttle bucket per name. gunicorn refuses a malformed address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")
# The access log is the application's (ACCESS_LOG, kernel/request_id.py): one JSON line per
# request with its request id. gunicorn's master logs as the application does.
accesslog = None
logconfig_dict = logging_config(log_format=os.environ.get("LOG_FORMAT", "json"),
                                level=os.environ.get("LOG_LEVEL", "INFO"), extra_loggers=SERVER_LOGGERS)
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), shared
# by every gunicorn on the machine; we do not use it, and a second instance must not be able
# to reach this one through it.
control_socket_disable = True


# prometheus_client multiprocess mode (see monitoring/exporter.py): the master wipes the
# web processes' metric files at start and marks a worker's files dead when it exits.
def on_starting(server):
    from monitoring.exporter import multiprocess_dir_wipe

    multiprocess_dir_wipe()


def child_exit(server, worker):
    from monitoring.exporter import process_dead

    process_dead(worker.pid)


# After the application is loaded in a worker, before it serves: startup objects leave the
# garbage collector's full passes (config/gc_freeze.py).
def post_worker_init(worker):
    from config.gc_freeze import web_startup_objects_freeze

    web_startup_objects_freeze()
