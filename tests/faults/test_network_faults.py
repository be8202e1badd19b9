"""Network faults between the application and PostgreSQL or Redis: every process of the
application (gunicorn/uvicorn web, a settlement worker, a notifications worker, beat with the
shipped DatabaseScheduler) reaches PostgreSQL and Redis only through a TCP proxy
(tests/faults/tcp_proxy.py) that the test switches, under client traffic, through delay,
reset and blackhole and back to pass. No client sees a 5xx other than a 503 in the error
shape with Retry-After, no request hangs, and once the proxy passes again (no new traffic
from then on) every transaction ends within seconds with nothing lost or done twice,
recovered by what the product ships (beat's sweep, a reconnected worker's sweep, task and
publish retries): the test calls no recovery function, it only waits.
Figures are printed for docs/RELIABILITY.md."""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.db.models import Count, Sum

from accounts.models import Account, LedgerEntry
from activation.models import Transaction
from notifications.models import Notification
from offers.errors import OfferFailure
from tests.conftest import RUN_DIR, LiveWeb, LiveWorker, Process
from tests.factories import OfferFactory, bearer, customer
from tests.faults.tcp_proxy import BLACKHOLE, DELAY, PASS, RESET, TcpProxy

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HANG_BOUND_SECONDS = 15.0  # no request may take longer, whatever the network does
RECOVERY_BOUND_SECONDS = 5.0  # every transaction ends within this after the proxy passes again
NOTIFIED_BOUND_SECONDS = 15.0  # and is told (one in-app notification) within this
DELAY_SECONDS = 0.2  # per chunk, each way
# How long each fault lasts: the reset as long as a restart of the server (a client whose
# reconnection backoff has grown past the recovery bound by then is caught); the blackhole
# longer than the hang bound (a request that waits on it instead of timing out is caught).
FAULTS = ((DELAY, 4.0), (RESET, 13.0), (BLACKHOLE, HANG_BOUND_SECONDS + 2))
CLIENTS = 4  # one customer each; every other one sends an Idempotency-Key
CLIENT_PACE_SECONDS = 0.25  # per client: under the 600/min transaction throttle of a customer
PRICE, BALANCE = Decimal("1.00"), Decimal("30.00")  # the later activations overdraw: both outcomes
# The processes behind the proxies use their own Redis databases, so the session worker (db 0)
# cannot settle anything past the proxies.
BROKER_DB, STORE_DB = 8, 9
RESTART_AFTER_SECONDS = 2  # as scripts/run.sh's supervise()


class ProxiedWorker(LiveWorker):
    """A LiveWorker whose readiness is asked on its own broker database, directly (not
    through the proxy the worker itself uses)."""

    def __init__(self, env: dict, *, queues: str, broker_url: str):
        super().__init__(env, queues=queues, concurrency=2)
        self.broker_url = broker_url
        self.name = f"netfaults-worker-{queues.split(',')[0]}"
        self.log_path = RUN_DIR / f"{self.name}.log"

    def wait_ready(self, timeout: float = 60) -> None:
        from celery import Celery

        # An app of its own: the project's app answers control replies on its own broker database.
        control = Celery("netfaults-control", broker=self.broker_url, set_as_current=False).control
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if control.ping(destination=[self.node], timeout=0.5):
                    return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready:\n{self.log_tail()}")


@dataclass
class ProxiedStack:
    web: LiveWeb
    processes: list[Process]  # the Celery processes, restarted when they exit
    postgres: TcpProxy
    redis: TcpProxy
    restarts: Counter = field(default_factory=Counter)


def _supervise(stack: ProxiedStack, stopped: threading.Event) -> None:
    """Restarts a Celery process that exited, as `make run` (and compose's restart policy) do."""
    while not stopped.wait(0.2):
        for process in stack.processes:
            if process.popen.poll() is not None and not stopped.is_set():
                stack.restarts[process.name] += 1
                time.sleep(RESTART_AFTER_SECONDS)
                Process.start(process)


@pytest.fixture(scope="module")
def proxied_stack(live_env):
    db = settings.DATABASES["default"]
    redis_target = urlsplit(settings.REDIS_URL)
    postgres = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"]), name="postgres").start()
    redis = TcpProxy(redis_target.hostname, redis_target.port, name="redis").start()
    through = f"redis://127.0.0.1:{redis.port}"
    # the shipped sweep settings (config.settings.base), whatever live_env scales
    env = {name: value for name, value in live_env.items() if not name.startswith("SWEEPER_")}
    env.update({"DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{postgres.port}/{db['NAME']}",
                "REDIS_URL": through, "CELERY_BROKER_URL": f"{through}/{BROKER_DB}",
                "CACHE_REDIS_URL": f"{through}/{STORE_DB}"})
    broker_direct = f"{settings.REDIS_URL}/{BROKER_DB}"
    web = LiveWeb(env)
    web.name, web.log_path = "netfaults-web", RUN_DIR / "netfaults-web.log"
    settlement = ProxiedWorker(env, queues="settlement", broker_url=broker_direct)
    notifications = ProxiedWorker(env, queues="notifications,callbacks,default", broker_url=broker_direct)
    beat = Process("netfaults-beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                                      "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                                      "--pidfile", str(RUN_DIR / f"netfaults-beat-{os.getpid()}.pid")], env)
    stack = ProxiedStack(web=web, processes=[settlement, notifications, beat], postgres=postgres, redis=redis)
    stopped = threading.Event()
    supervisor = threading.Thread(target=_supervise, args=(stack, stopped), daemon=True)
    try:
        web.start()
        settlement.start()
        notifications.start()
        beat.start()
        supervisor.start()
        yield stack
    finally:
        stopped.set()
        if supervisor.is_alive():
            supervisor.join()
        for process in (beat, notifications, settlement, web):
            process.stop()
        postgres.stop()
        redis.stop()


# --- clients --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    user_id: int
    status: int  # 0: no HTTP answer (connection error or client timeout)
    retry_after: str | None
    body: dict | str
    seconds: float


def client_loop(url: str, user, offer_id: int, stop: threading.Event, answers: list[Answer], *,
                idempotent: bool) -> None:
    session = requests.Session()
    session.headers["Authorization"] = bearer(user)
    while not stop.is_set():
        headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else {}
        started = time.monotonic()
        try:
            response = session.post(url, json={"offer_id": offer_id}, headers=headers,
                                    timeout=(5, HANG_BOUND_SECONDS + 5))
            try:
                body = response.json()
            except ValueError:
                body = response.text[:200]
            answers.append(Answer(user.pk, response.status_code, response.headers.get("Retry-After"), body,
                                  time.monotonic() - started))
        except requests.RequestException as exc:
            answers.append(Answer(user.pk, 0, None, repr(exc), time.monotonic() - started))
        stop.wait(max(0.0, CLIENT_PACE_SECONDS - (time.monotonic() - started)))
    session.close()


def accepted_ids(answers: list[Answer]) -> set[str]:
    return {a.body["transaction_id"] for a in answers if a.status == 202}


# --- what the test waits for (and only waits: recovery is the product's) ----------------------

def unfinished(user_ids, accepted: set[str]) -> list[str]:
    """Transactions of these customers not yet terminal, and accepted ones PostgreSQL lacks."""
    rows = dict(Transaction.objects.filter(user_id__in=user_ids).values_list("id", "status"))
    known = {str(pk) for pk in rows}
    return ([str(pk) for pk, status in rows.items() if status not in Transaction.TERMINAL]
            + [f"missing {pk}" for pk in accepted - known])


def untold(user_ids) -> list[str]:
    """Finished transactions of these customers without exactly one in-app notification."""
    finished = {str(pk) for pk in Transaction.objects.filter(user_id__in=user_ids, status__in=Transaction.TERMINAL)
                .values_list("id", flat=True)}
    told = Counter(Notification.objects.filter(user_id__in=user_ids, channel=Notification.Channel.IN_APP)
                   .values_list("data__transaction_id", flat=True))
    return sorted(pk for pk in finished | set(told) if told[pk] != 1)


def seconds_until(condition, since: float, timeout: float) -> tuple[float | None, list[str]]:
    """Seconds from `since` until `condition()` (a list of what is still wrong) came back empty;
    None (and what was still wrong) if it did not within `timeout`."""
    while True:
        wrong = condition()
        if not wrong:
            return time.monotonic() - since, []
        if time.monotonic() - since > timeout:
            return None, wrong
        time.sleep(0.05)


@dataclass
class FaultFigures:
    mode: str
    answers: list[Answer]
    settled_after: float | None = None
    still_unfinished: list[str] = field(default_factory=list)
    told_after: float | None = None
    still_untold: list[str] = field(default_factory=list)

    def line(self, dependency: str) -> str:
        codes = Counter(a.status for a in self.answers)
        slowest = max((a.seconds for a in self.answers), default=0.0)
        settled = _seconds_or_left(self.settled_after, self.still_unfinished)
        told = _seconds_or_left(self.told_after, self.still_untold)
        return (f"[faults] {dependency} {self.mode}: requests={len(self.answers)} accepted={codes[202]} "
                f"503s={codes[503]} other={ {c: n for c, n in codes.items() if c not in (202, 503)} } "
                f"slowest_request={slowest:.2f}s settled_after_pass={settled} notified_after_pass={told}")


def _seconds_or_left(seconds: float | None, left: list[str]) -> str:
    return f"{seconds:.2f}s" if seconds is not None else f"NOT ({len(left)} left)"


def faults_through(stack: ProxiedStack, proxy: TcpProxy, users, offer) -> list[FaultFigures]:
    """For each fault: clients submit activations; after a second the proxy switches to the
    fault; the clients stop, their last requests end under the fault, and only then does the
    proxy pass again: from there on no new traffic, and the test waits for every transaction
    to end and to be told."""
    user_ids = [user.pk for user in users]
    figures, accepted = [], set()
    for mode, duration in FAULTS:
        answers: list[Answer] = []
        stop = threading.Event()
        try:
            with ThreadPoolExecutor(max_workers=len(users)) as pool:
                futures = [pool.submit(client_loop, f"{stack.web.url}/api/v1/activation/", user, offer.id, stop,
                                       answers, idempotent=i % 2 == 0) for i, user in enumerate(users)]
                time.sleep(1.0)  # settlements in flight when the fault starts
                proxy.switch(mode, seconds=DELAY_SECONDS)
                time.sleep(duration)
                stop.set()  # no new traffic: the requests in flight end under the fault
                for future in futures:
                    future.result()
                proxy.switch(PASS)
                fault_ended = time.monotonic()
        finally:
            proxy.switch(PASS)
            stop.set()
        accepted |= accepted_ids(answers)
        fault = FaultFigures(mode, answers)
        fault.settled_after, fault.still_unfinished = seconds_until(lambda: unfinished(user_ids, accepted),
                                                                    fault_ended, timeout=30)
        fault.told_after, fault.still_untold = seconds_until(lambda: untold(user_ids), fault_ended, timeout=30)
        figures.append(fault)
    return figures


def assert_faults_survived(dependency: str, stack: ProxiedStack, users, figures: list[FaultFigures]) -> None:
    user_ids = [user.pk for user in users]
    answers = [a for fault in figures for a in fault.answers]
    accepted = accepted_ids(answers)
    rows = list(Transaction.objects.filter(user_id__in=user_ids).values("id", "user_id", "status", "failure_code"))
    unanswered = [row for row in rows if str(row["id"]) not in accepted]  # committed, the client told otherwise
    outcomes = Counter((row["status"], row["failure_code"]) for row in rows)
    for fault in figures:
        print(fault.line(dependency))
    print(f"[faults] {dependency} totals: requests={len(answers)} accepted={len(accepted)} "
          f"committed_without_202={len(unanswered)} outcomes={dict(outcomes)} "
          f"process_restarts={dict(stack.restarts) or 0}")

    # every request answered in time; no 5xx but 503, each in the error shape with Retry-After
    hung = [a for a in answers if a.seconds > HANG_BOUND_SECONDS]
    assert not hung, f"{len(hung)} request(s) over {HANG_BOUND_SECONDS}s, e.g. {hung[:3]}"
    for a in answers:
        assert a.status in (202, 503), a
        if a.status == 503:
            assert a.retry_after and int(a.retry_after) >= 1, a
            assert isinstance(a.body, dict) and set(a.body) == {"code", "message", "details"}, a
    # every transaction ended, and was told once, within the bounds after the fault ended
    for fault in figures:
        assert fault.settled_after is not None and fault.settled_after <= RECOVERY_BOUND_SECONDS, \
            (fault.mode, fault.settled_after, fault.still_unfinished[:5])
        assert fault.told_after is not None and fault.told_after <= NOTIFIED_BOUND_SECONDS, \
            (fault.mode, fault.told_after, fault.still_untold[:5])
    # money: per account ledger == balance >= 0; one debit per succeeded activation, none else;
    # a fault turned no affordable activation into a failure
    succeeded = {row["id"] for row in rows if row["status"] == Transaction.Status.SUCCEEDED}
    debits = list(LedgerEntry.objects.filter(account__user_id__in=user_ids, reason="debit")
                  .values_list("transaction_id", flat=True))
    assert len(debits) == len(set(debits)) and set(debits) == succeeded
    for user in users:
        account = Account.objects.get(user=user)
        ledger = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
        mine = [row for row in rows if row["user_id"] == user.pk]
        won = sum(row["status"] == Transaction.Status.SUCCEEDED for row in mine)
        assert ledger == account.balance == BALANCE - won * PRICE >= 0
        assert won == min(len(mine), int(BALANCE / PRICE)), (user.pk, won, len(mine))
    failure_codes = {code for status, code in outcomes if status == Transaction.Status.FAILED}
    assert failure_codes <= {OfferFailure.INSUFFICIENT_BALANCE}
    # exactly one in-app notification per finished activation, of the matching kind
    kinds = dict(Notification.objects.filter(user_id__in=user_ids, channel=Notification.Channel.IN_APP)
                 .values_list("data__transaction_id", "kind"))
    for row in rows:
        expected = "activation_succeeded" if row["status"] == Transaction.Status.SUCCEEDED else "activation_failed"
        assert kinds.get(str(row["id"])) == expected, row
    per_transaction = (Notification.objects.filter(user_id__in=user_ids, channel=Notification.Channel.IN_APP)
                       .values("data__transaction_id").annotate(n=Count("id")).filter(n__gt=1))
    assert not per_transaction.exists()


def test_postgres_delayed_reset_and_blackholed_no_500_nothing_lost_recovers_in_5s(proxied_stack):
    # given: four customers who can afford 30 activations each
    users = [customer(balance=str(BALANCE)) for _ in range(CLIENTS)]
    offer = OfferFactory(price=PRICE)

    # when: the network to PostgreSQL is slow, then resets, then drops into a blackhole, under traffic
    figures = faults_through(proxied_stack, proxied_stack.postgres, users, offer)

    # then
    assert_faults_survived("postgres", proxied_stack, users, figures)


def test_redis_delayed_reset_and_blackholed_no_500_nothing_lost_recovers_in_5s(proxied_stack):
    # given
    users = [customer(balance=str(BALANCE)) for _ in range(CLIENTS)]
    offer = OfferFactory(price=PRICE)

    # when: the same faults on the network to Redis (broker, status store, throttles, flags)
    figures = faults_through(proxied_stack, proxied_stack.redis, users, offer)

    # then
    assert_faults_survived("redis", proxied_stack, users, figures)
