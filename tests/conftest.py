"""Fixtures for the real parts: the PostgreSQL and Redis that `make test` started, and —
for end-to-end tests — a real Celery worker and a real web server (gunicorn + uvicorn)
running as separate processes against the test database."""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("TEST_RUN_DIR", ROOT / ".run" / "test-manual"))


@pytest.fixture(autouse=True)
def status_store_clean():
    """Each test starts with an empty cache / status store / throttle counters (db 1).
    The broker (db 0) is left alone: a running worker keeps its queues."""
    redis.Redis.from_url(settings.CACHE_REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def jwt_users_forgotten():
    """Each test's process authenticates from the database first (kernel/jwt_auth.py)."""
    from kernel.jwt_auth import _remembered, _verified

    _remembered.clear()
    _verified.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that the live worker sends to."""
    from tests.notifications.smtp import SmtpServer

    server = SmtpServer(port=_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_env(django_db_setup, smtp_server) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": _test_database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "PYTHONUNBUFFERED": "1",
        # Partner callback retries in tenths of a second instead of minutes.
        "PARTNER_CALLBACK_BACKOFF_BASE_SECONDS": "0.2",
        # Emails go to the test's SMTP server; retries in tenths of a second.
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "5",
        "NOTIFICATION_BACKOFF_BASE_SECONDS": "0.2",
    })
    return env


class Process:
    def __init__(self, name: str, args: list[str], env: dict):
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.args = args
        self.env = env
        self.log_path = RUN_DIR / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class LiveWorker(Process):
    """`celery worker` on every queue, prefork, as make run starts it."""

    def __init__(self, env: dict, queues: str = "settlement,notifications,callbacks,default", concurrency: int = 2):
        self.node = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
        # Metrics as make run exposes them: multiprocess files of this worker only, and
        # the worker's own exporter on a free port (see monitoring/exporter.py).
        self.metrics_port = _free_port()
        self.metrics_dir = RUN_DIR / "metrics" / f"worker-{self.metrics_port}"
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir), "WORKER_METRICS_PORT": str(self.metrics_port),
               "WORKER_HEARTBEAT_SECONDS": "1"}
        super().__init__("worker", [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues,
                                    "-c", str(concurrency), "-n", self.node, "--without-mingle",
                                    "--without-gossip", "--loglevel", "INFO"], env)

    started: list["LiveWorker"] = []
    exits = 0

    def start(self) -> None:
        LiveWorker.started.append(self)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)  # a restarted worker starts from zero
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        super().start()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        """Waits until the worker answers a ping. A worker that has exited is started again,
        as the supervisor of `make run` (or compose's restart policy) would, and counted in
        `exits` for a test to assert that none did."""
        from config.celery import app

        deadline = time.monotonic() + timeout
        restarts = 0
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                if restarts >= 3:
                    raise RuntimeError(f"worker keeps exiting:\n{self.log_tail()}")
                restarts += 1
                self.exits += 1
                super().start()
            try:  # a fresh connection each time: the broker may have been restarted under us
                with app.connection_for_write() as connection:
                    if app.control.ping(destination=[self.node], timeout=0.5, connection=connection):
                        return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self.log_tail()}")

    def settlement_pause(self) -> None:
        self.consumer_cancel("settlement")
        # A BRPOP already waiting on the queue (1 s timeout) may still take one message.
        time.sleep(1.2)

    def settlement_resume(self) -> None:
        self.consumer_add("settlement")

    def consumer_cancel(self, queue: str) -> None:
        self._consuming_set(queue, False)

    def consumer_add(self, queue: str) -> None:
        self._consuming_set(queue, True)

    def _consuming_set(self, queue: str, consuming: bool, timeout: float = 60) -> None:
        """Asks the worker to stop (start) consuming `queue` and waits until it says it has.
        A control command is broadcast and answered within 5 s or not at all: on a loaded
        machine the worker may act on it later, after the test has already gone on."""
        from config.celery import app

        command = app.control.add_consumer if consuming else app.control.cancel_consumer
        deadline = time.monotonic() + timeout
        while True:
            with app.connection_for_write() as connection:
                command(queue, destination=[self.node], reply=True, timeout=5, connection=connection)
                replies = app.control.inspect(destination=[self.node], timeout=5,
                                              connection=connection).active_queues() or {}
            if self.node in replies and any(q["name"] == queue for q in replies[self.node]) == consuming:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {'still not' if consuming else 'still'} consuming {queue} "
                                   f"after {timeout}s: {replies}\n{self.log_tail()}")
            time.sleep(0.2)

    def wait_idle(self, tasks: tuple[str, ...] = ("",), timeout: float = 60) -> None:
        """Waits until the worker holds no task whose name starts with one of `tasks`: none
        running, none prefetched, none waiting for its ETA/countdown. (The queues being empty
        says nothing about those.) Name the tasks a test started, so that leftovers of earlier
        tests (callback retries, say) do not hold it up."""
        from config.celery import app

        def held(entries) -> list[str] | None:
            if entries is None:  # the worker did not answer
                return None
            names = [entry.get("name") or entry.get("request", {}).get("name", "") for entry in entries]
            return [name for name in names if name.startswith(tasks)]

        deadline = time.monotonic() + timeout
        while True:
            with app.connection_for_write() as connection:
                inspect = app.control.inspect(destination=[self.node], timeout=5, connection=connection)
                found = {kind: held((getattr(inspect, kind)() or {}).get(self.node))
                         for kind in ("active", "reserved", "scheduled")}
            if all(names == [] for names in found.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker still holds {tasks} tasks after {timeout}s: {found}")
            time.sleep(0.2)


class LiveWeb(Process):
    def __init__(self, env: dict):
        self.port = _free_port()
        self.metrics_dir = RUN_DIR / "metrics" / f"web-{self.port}"
        env = {**env, "PORT": str(self.port), "WEB_CONCURRENCY": "2", "ACCESS_LOG": "0",
               "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}
        super().__init__("web", [str(Path(sys.executable).parent / "gunicorn"), "config.asgi:application",
                                 "-c", "config/gunicorn.conf.py"], env)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        # WhiteNoise serves STATIC_ROOT: the admin and Swagger UI need their assets there.
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT,
                       env=self.env, check=True, timeout=120)
        super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"web exited:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/health/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"web not ready:\n{self.log_tail()}")

    def threads(self) -> int:
        """How many threads the web's worker processes run."""
        children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text().split()
        return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in children)


@pytest.fixture(scope="session")
def live_worker(live_env):
    worker = LiveWorker(live_env)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def settlement_idle_before_flush(request):
    """The same wait as `transactional_db` below, for tests marked
    `django_db(transaction=True)` (pytest-django flushes those without that fixture)."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction") and _worker_running():
        try:
            settlement_queue_drain(timeout=30)
        except redis.RedisError:
            pass


@pytest.fixture(scope="session")
def live_web(live_env):
    web = LiveWeb(live_env)
    web.start()
    yield web
    web.stop()


@pytest.fixture
def live_stack(live_worker, live_web, transactional_db):
    """A test that talks to the real web process and worker; data it creates is committed."""
    live_worker.settlement_resume()
    yield live_web, live_worker
    live_worker.settlement_resume()
    settlement_queue_drain()


@pytest.fixture
def transactional_db(transactional_db):
    """A transactional test commits rows and enqueues their settlement; a live worker of
    the session may be settling them while pytest-django truncates the tables, and the
    TRUNCATE then deadlocks with the worker's row locks. Let the worker finish first."""
    yield transactional_db
    if _worker_running():
        try:
            settlement_queue_drain(timeout=30)
        except redis.RedisError:  # a test that stopped the broker; nothing to wait for
            pass


@pytest.fixture(scope="session", autouse=True)
def flush_retried_after_a_deadlock():
    """The flush of a transactional test TRUNCATEs every table, taking each one's strongest
    lock. A live worker's late task (a callback or email retry firing on its countdown after
    the waits above) can deadlock with it, and PostgreSQL may pick the TRUNCATE as the
    victim. The flush is one database transaction, rolled back whole, so it is tried again."""
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def retried(self):
        for attempt in range(3):
            try:
                return original(self)
            except Exception as exc:
                if attempt == 2 or not _caused_by_deadlock(exc):
                    raise
                time.sleep(0.2)

    TransactionTestCase._fixture_teardown = retried
    yield
    TransactionTestCase._fixture_teardown = original


def _caused_by_deadlock(exc: BaseException | None) -> bool:
    import psycopg

    while exc is not None:
        if isinstance(exc, psycopg.errors.DeadlockDetected):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _worker_running() -> bool:
    return any(w.popen and w.popen.poll() is None for w in LiveWorker.started)


def settlement_queue_drain(timeout: float = 60) -> None:
    """Waits until the live worker has nothing left to do for this test: its queues are
    empty and no transaction is unfinished. (The broker's `unacked` hash is no guide: a
    SIGKILLed worker leaves entries there until the visibility timeout.)"""
    from activation.models import Transaction

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = broker.llen("settlement") or broker.llen("notifications") or broker.llen("callbacks")
        if not busy and not Transaction.objects.filter(status__in=["PENDING", "PROCESSING"]).exists():
            time.sleep(0.2)  # the last task's after-commit work
            database_transactions_wait(deadline)
            return
        time.sleep(0.1)


def database_transactions_wait(deadline: float) -> None:
    """Waits until no other session has a transaction open on the test database: a task that
    found its work already done (a settle of a terminal transaction, a notification) may
    still hold row locks, and TRUNCATE deadlocks with it."""
    from django.db import connection

    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)


def redis_server_stop() -> None:
    port = settings.REDIS_URL.rsplit(":", 1)[1]
    subprocess.run(["redis-cli", "-p", port, "shutdown"], check=False, capture_output=True)


def redis_server_start() -> None:
    port = settings.REDIS_URL.rsplit(":", 1)[1]
    data = RUN_DIR / "redis"
    (data / "redis.port").write_text(port)  # how scripts/test.sh finds it to stop it
    subprocess.run(["redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", str(data), "--daemonize", "yes",
                    "--pidfile", str(data / "redis.pid"), "--logfile", str(data / "redis.log"),
                    "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=int(port)).ping()
            return
        except redis.RedisError:
            time.sleep(0.1)
    raise RuntimeError("redis did not come back")


def _pg_ctl(*args: str) -> None:
    data = RUN_DIR / "pg"
    bindir = next(p for p in ["/usr/lib/postgresql/15/bin", os.environ.get("PG_BIN", "")] if p and os.path.exists(p))
    command = [f"{bindir}/pg_ctl", "-D", str(data), "-l", str(data / "server.log"), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", os.environ.get("PG_OS_USER", "postgres"), "--", *command]
    # The server must not inherit our pipes, or waiting for pg_ctl never ends.
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def postgres_server_stop() -> None:
    """Stops the test's PostgreSQL (fast shutdown: sessions are cut, as in a crash of the server)."""
    _pg_ctl("stop", "-m", "fast", "-w")


def postgres_server_start() -> None:
    """Starts it again with the options it was started with (postmaster.opts outlives a stop)."""
    argv = shlex.split((RUN_DIR / "pg" / "postmaster.opts").read_text())[1:]
    options = [arg for i, arg in enumerate(argv) if arg != "-D" and (i == 0 or argv[i - 1] != "-D")]
    _pg_ctl("start", "-w", "-t", "30", "-o", shlex.join(options))
