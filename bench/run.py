"""The run: baselines, scenarios P1-P7, invariants after each, then the report."""
from __future__ import annotations

import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection, connections

from bench import data, load, wrkload
from bench.__main__ import log
from bench.scenarios import Params
from bench.stack import SoloWorkers, Web, Worker, WsgiBaseline, rss_kib


CEILING_BATCH = 500  # items per commit of the batched-write ceiling (settlement's SETTLEMENT_BATCH_SIZE)


def pct(values, q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q / 100 * (len(values) - 1)))))
    return values[k]


def latency_summary(values: list[float]) -> dict:
    return {"count": len(values), "p50_ms": _ms(pct(values, 50)), "p95_ms": _ms(pct(values, 95)),
            "p99_ms": _ms(pct(values, 99)), "max_ms": _ms(max(values) if values else None)}


def _ms(v):
    return None if v is None else round(v * 1000, 2)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bench:
    def __init__(self, *, params: Params, out: Path, smoke: bool, only: set[str]):
        self.p, self.out, self.smoke, self.only = params, out, smoke, only
        self.results: dict = {"scenarios": {}, "baselines": {}, "invariants": {}, "series": {}, "latencies": {}}
        self.failed: list[str] = []
        env = dict(os.environ)
        self.env = env
        self.web = Web(env, out / "logs", _free_port(), params.web_processes, nice=params.web_nice)
        self.worker = (SoloWorkers(env, out / "logs", params.worker_processes) if params.worker_pool == "solo"
                       else Worker(env, out / "logs", params.worker_processes, pool=params.worker_pool))
        self.cache = redis.Redis.from_url(settings.CACHE_REDIS_URL)
        self.broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        self.tag = uuid.uuid4().hex[:6]

    def want(self, name: str) -> bool:
        return not self.only or name in self.only

    # --- orchestration ------------------------------------------------------------------------
    def run(self) -> bool:
        started = time.time()
        self.results["conditions"] = self.conditions()
        self.results["params"] = self.p.as_dict()
        self.results["smoke"] = self.smoke
        try:
            log(f"setting up {self.p.users} customers, the hot campaign and {self.p.p2_campaigns} spread campaigns")
            self.users = data.customers_create(self.p.users, f"bench-{self.tag}")
            self.hot = data.campaigns_create(1, f"hot-{self.tag}")
            self.spread = data.campaigns_create(self.p.p2_campaigns, f"spread-{self.tag}")
            self.offer_id = data.offer_create()
            self.tokens = self.tokens_make()
            self.web.start()
            self.worker.start()
            log(f"web on {self.web.url} ({self.p.web_processes} processes), settlement worker "
                f"({self.p.worker_processes} processes)")
            self.baselines()
            self.invariants("baselines")
            for name, fn in [("S", self.s_server), ("S3", self.s3), ("P1", self.p1), ("P2", self.p2), ("P3", self.p3), ("P4", self.p4), ("P5", self.p5),
                             ("P6", self.p6), ("P7", self.p7)]:
                if self.want(name):
                    log(f"--- {name}")
                    try:
                        self.quiesce(name)
                        fn()
                    except Exception as exc:  # a broken scenario fails the report, the others still run
                        import traceback

                        traceback.print_exc()
                        self.failed.append(f"{name}: {exc!r}")
                        self.results["scenarios"].setdefault(name, {})["error"] = repr(exc)
                    self.invariants(name)
        finally:
            self.worker.stop()
            self.web.stop()
            self.durable_restore()
        self.results["elapsed_seconds"] = round(time.time() - started, 1)
        self.results["failed"] = self.failed
        from bench.report import report_write

        report_write(self.out, self.results)
        return not self.failed

    def conditions(self) -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg = cursor.fetchone()[0]
            cursor.execute("SHOW synchronous_commit")
            sync = cursor.fetchone()[0]
        info = self.cache.info()
        return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": platform.node(), "cpus": os.cpu_count(),
                "loadavg_at_start": os.getloadavg(), "python": platform.python_version(), "postgresql": pg,
                "synchronous_commit": sync, "redis": info.get("redis_version"),
                "redis_appendonly": self.cache.config_get("appendonly").get("appendonly"),
                "redis_appendfsync": self.cache.config_get("appendfsync").get("appendfsync"),
                "settlement_batch_size": settings.SETTLEMENT_BATCH_SIZE}

    def tokens_make(self) -> dict[int, str]:
        from rest_framework_simplejwt.tokens import AccessToken

        from accounts.models import User

        return {u.id: str(AccessToken.for_user(u)) for u in User.objects.filter(id__in=self.users)}

    def items_redeem(self, campaign_ids: list[int]) -> list[dict]:
        return [{"method": "POST", "path": "/api/v1/discounts/redeem/",
                 "headers": {"Authorization": f"Bearer {self.tokens[u]}"},
                 "json": {"campaign_id": campaign_ids[i % len(campaign_ids)], "cart_value": "100.00",
                          "delivery_charge": "0.00", "order_reference": f"bench-{u}-{i}"}}
                for i, u in enumerate(self.users)]

    def items_activate(self) -> list[dict]:
        return [{"method": "POST", "path": "/api/v1/activation/",
                 "headers": {"Authorization": f"Bearer {self.tokens[u]}"}, "json": {"offer_id": self.offer_id}}
                for u in self.users]

    def items_status_poll(self) -> list[dict]:
        """A poll of each customer's latest settled transaction, as its client polls after the 202."""
        from activation.models import Transaction

        latest = (Transaction.objects.filter(user_id__in=self.users, status__in=Transaction.TERMINAL)
                  .order_by("user_id", "-created_at").distinct("user_id").values_list("id", "user_id"))
        return [{"method": "GET", "path": f"/api/v1/activation/status/{tid}/",
                 "headers": {"Authorization": f"Bearer {self.tokens[uid]}"}} for tid, uid in latest]

    def load(self, kind, items, amount, duration, collect_ids=False) -> load.Result:
        connections.close_all()  # the load processes are forked
        return load.run(kind, self.web.url, items, amount, duration, procs=self.p.load_procs,
                        collect_ids=collect_ids, nice=self.p.load_nice)

    # --- worker control -----------------------------------------------------------------------
    def _control(self, method: str) -> None:
        from config.celery import app

        with app.connection_for_write() as conn:
            getattr(app.control, method)("settlement", destination=self.worker.nodes, reply=True, timeout=5,
                                         connection=conn)

    def settlement_pause(self) -> None:
        self._control("cancel_consumer")
        deadline = time.monotonic() + 60  # let in-flight tasks finish
        while time.monotonic() < deadline and self.broker.hlen("unacked"):
            time.sleep(0.1)

    def settlement_resume(self) -> None:
        self._control("add_consumer")

    def drain(self, name: str, expected: int | None = None) -> dict:
        """Polls the number of unsettled rows until none is left; returns rate and series."""
        t0 = time.monotonic()
        start_left = data.settleable_count()
        series = [(0.0, 0)]
        left = start_left
        deadline = t0 + self.p.drain_timeout
        last_change = t0
        while left and time.monotonic() < deadline:
            time.sleep(0.1 if self.smoke else 0.25)
            now_left = data.settleable_count()
            if now_left != left:
                last_change = time.monotonic()
            left = now_left
            series.append((round(time.monotonic() - t0, 3), start_left - left))
        elapsed = max(last_change - t0, 1e-6)
        self.results["series"][name] = series
        done = start_left - left
        if left:
            self.failed.append(f"{name}: {left} transaction(s) still unsettled after {self.p.drain_timeout}s")
        return {"transactions": done, "seconds": round(elapsed, 3), "settled_per_second": round(done / elapsed, 1),
                "left_unsettled": left}

    def dispatch(self, ids) -> None:
        """What the API does after its commits: PENDING statuses stored, one message queued."""
        from activation.models import Transaction
        from activation.services import transactions_dispatch

        for start in range(0, len(ids), 5000):
            transactions_dispatch(Transaction.objects.filter(pk__in=ids[start:start + 5000]).order_by("created_at"))

    # --- baselines ----------------------------------------------------------------------------
    def baselines(self) -> None:
        b = self.results["baselines"]
        log("baseline: pgbench simple-update")
        b["pgbench_simple_update_tps"] = self.pgbench(["-b", "simple-update"])
        log(f"  {b['pgbench_simple_update_tps']} TPS")
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write("UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;\n")
        log("baseline: single hot row UPDATE")
        b["pgbench_hot_row_update_tps"] = self.pgbench(["-f", script.name])
        os.unlink(script.name)
        log(f"  {b['pgbench_hot_row_update_tps']} TPS")
        log(f"baseline: batched-write ceiling ({CEILING_BATCH} transaction + {CEILING_BATCH} redemption rows "
            "and one hot-row update per commit)")
        b["batched_write_ceiling"] = self.batched_write_ceiling()
        log(f"  {b['batched_write_ceiling']['items_per_second']} items/s")
        log("baseline: no-op Celery task round trip")
        b["celery_ping"] = self.ping()
        log(f"  p50 {b['celery_ping']['p50_ms']} ms, p99 {b['celery_ping']['p99_ms']} ms")
        log("baseline: /health/ request rate")
        self.quiesce("health")  # pgbench's updates leave autovacuum work behind; P3 gets the same quiet start
        b["health"] = self.health()
        log(f"  {b['health']['requests_per_second']} req/s")

    def health(self, name: str = "health") -> dict:
        r = self.load("closed", [{"method": "GET", "path": "/health/"}], self.p.p3_clients, self.p.p3_seconds)
        self.results["series"][name] = self.rate_series(r)
        self.results["latencies"][name] = [x[1] for x in r.rows]
        return {"requests_per_second": round(r.ok / r.duration, 1), "errors": r.errors, "clients": self.p.p3_clients,
                **latency_summary([x[1] for x in r.rows])}

    def pgbench(self, args: list[str]) -> float:
        db = settings.DATABASES["default"]
        exe = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
        conn = ["-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], db["NAME"]]
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('pgbench_branches') IS NOT NULL")
            initialised = cursor.fetchone()[0]
        if not initialised:
            subprocess.run([exe, "-i", "-q", "-s", str(self.p.pgbench_scale), *conn], check=True,
                           capture_output=True)
        jobs = min(self.p.pgbench_clients, os.cpu_count() or 1)
        out = subprocess.run([exe, *args, "-n", "-c", str(self.p.pgbench_clients), "-j", str(jobs),
                              "-T", str(max(1, int(self.p.pgbench_seconds))), *conn],
                             check=True, capture_output=True, text=True).stdout
        match = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)",
                          out)
        return round(float(match.group(1)), 1)

    def batched_write_ceiling(self) -> dict:
        """What PostgreSQL can write with batched settlement's commit pattern: per commit,
        CEILING_BATCH rows into a copy of the transaction table, as many into a copy of the
        redemption table (same columns and indexes, no foreign keys), one hot-row UPDATE."""
        tables = {"bench_ceiling_transaction": "activation_transaction",
                  "bench_ceiling_redemption": "offers_campaignredemption"}
        with connection.cursor() as cursor:
            for copy, source in tables.items():
                cursor.execute(f"DROP TABLE IF EXISTS {copy}")
                cursor.execute(f"CREATE TABLE {copy} (LIKE {source} INCLUDING DEFAULTS INCLUDING IDENTITY "
                               "INCLUDING CONSTRAINTS INCLUDING INDEXES)")
            inserts = [self._ceiling_insert(cursor, copy) for copy in tables]
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write("BEGIN;\n" + "".join(f"{sql};\n" for sql in inserts)
                         + f"UPDATE pgbench_branches SET bbalance = bbalance + {CEILING_BATCH} WHERE bid = 1;\nEND;\n")
        try:
            tps = self.pgbench(["-f", script.name])
        finally:
            os.unlink(script.name)
            with connection.cursor() as cursor:
                for copy in tables:
                    cursor.execute(f"DROP TABLE IF EXISTS {copy}")
        return {"tps": tps, "items_per_commit": CEILING_BATCH, "items_per_second": round(tps * CEILING_BATCH, 1)}

    @staticmethod
    def _ceiling_insert(cursor, table: str) -> str:
        """INSERT … SELECT of CEILING_BATCH rows filling every required column with a value of
        its type (unique ones made unique)."""
        cursor.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                       "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'", [table])
        values = {"uuid": "gen_random_uuid()", "numeric": "1", "integer": "1", "bigint": "g", "smallint": "1",
                  "timestamp with time zone": "now()", "date": "current_date", "jsonb": "'{}'", "boolean": "false"}
        columns, exprs = [], []
        for name, kind in cursor.fetchall():
            columns.append(name)
            exprs.append("md5(random()::text)" if kind in ("character varying", "text") and name == "order_reference"
                         else "''" if kind in ("character varying", "text") else values[kind])
        return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
                f"FROM generate_series(1, {CEILING_BATCH}) AS g")

    def ping(self, name: str = "celery_ping") -> dict:
        from bench.tasks import settlement_ping_task

        samples = []
        warm_up = min(20, self.p.ping_count)  # a fresh worker's first tasks pay one-off costs: not timed
        for i in range(warm_up + self.p.ping_count):
            key = f"bench:ping:{self.tag}:{i}"
            t = time.monotonic()
            settlement_ping_task.apply_async(args=[key])
            if self.cache.blpop([key], timeout=30) is None:
                raise RuntimeError("no-op task did not answer in 30 s")
            if i >= warm_up:
                samples.append(time.monotonic() - t)
        self.results["latencies"][name] = samples
        return latency_summary(samples)

    @staticmethod
    def rate_series(r: load.Result, bucket: float = 1.0) -> list[tuple[float, int]]:
        """(time, cumulative successful responses) per bucket."""
        series, count, edge = [(0.0, 0)], 0, bucket
        for t, _lat, status in sorted(r.rows):
            while t > edge:
                series.append((round(edge, 3), count))
                edge += bucket
            if 200 <= status < 300:
                count += 1
        series.append((round(max(edge, r.duration), 3), count))
        return series

    # --- scenarios ----------------------------------------------------------------------------
    def settle_drain(self, name: str, campaign_ids: list[int], n: int) -> dict:
        self.settlement_pause()
        log(f"pre-loading {n} pending redemptions over {len(campaign_ids)} campaign(s), workers paused")
        ids = data.redemptions_preload(self.users, campaign_ids, n)
        self.dispatch(ids)
        log("resuming settlement; timing the drain")
        resumed = time.time()
        self.settlement_resume()
        result = self.drain(name)
        # The polls above see the end within 0.25 s; the rows say it exactly: from the moment
        # the consumers were told to resume to the last settled_at (same host clock).
        last = data.last_settled_at(since=resumed)
        if last is not None and result["transactions"] == n and not result["left_unsettled"]:
            result["seconds_polled"] = result["seconds"]
            result["seconds"] = round(last - resumed, 3)
            result["settled_per_second"] = round(n / max(last - resumed, 1e-6), 1)
        log(f"  {result['transactions']} settled in {result['seconds']} s = {result['settled_per_second']}/s")
        return result

    def p1(self) -> None:
        r = self.settle_drain("P1", self.hot, self.p.p1_transactions)
        ceiling = self.results["baselines"]["batched_write_ceiling"]["items_per_second"]
        r["ratio"] = round(r["settled_per_second"] / ceiling, 3)
        r["ratio_vs_pgbench_simple_update"] = round(r["settled_per_second"] / self.results["baselines"]
                                                    ["pgbench_simple_update_tps"], 3)
        r["ratio_vs_hot_row_update"] = round(r["settled_per_second"] / self.results["baselines"]
                                             ["pgbench_hot_row_update_tps"], 3)
        self.results["scenarios"]["P1"] = r

    def s3(self) -> None:
        """S3: one hot code pool, then one hot flash promo: N claims (reservations) by N
        customers pre-loaded with the workers paused, then the drain timed; each ÷ pgbench
        simple-update TPS."""
        from offers.codes.services import KIND_CODE_CLAIM
        from offers.flash.services import KIND_FLASH_RESERVATION

        n = min(self.p.s3_transactions, len(self.users))
        base = self.results["baselines"]["pgbench_simple_update_tps"]
        pool_id = data.code_pool_create(n, f"s3-{self.tag}")
        promo_id = data.flash_promo_create(self.users, n, f"s3-{self.tag}")
        for key, name, kind, payload in [("S3", "S3 code claims", KIND_CODE_CLAIM, {"pool_id": pool_id}),
                                         ("S3f", "S3 flash reservations", KIND_FLASH_RESERVATION,
                                          {"promo_id": promo_id})]:
            self.settlement_pause()
            log(f"{name}: pre-loading {n} pending, workers paused")
            ids = data.requests_preload(kind, self.users, payload, n)
            self.dispatch(ids)
            resumed = time.time()
            self.settlement_resume()
            r = self.drain(name)
            last = data.last_settled_at(since=resumed)
            if last is not None and r["transactions"] == n and not r["left_unsettled"]:
                r["seconds"] = round(last - resumed, 3)
                r["settled_per_second"] = round(n / max(last - resumed, 1e-6), 1)
            r["succeeded"] = data.status_counts_of(ids).get("SUCCEEDED", 0)
            r["ratio"] = round(r["settled_per_second"] / base, 3)
            log(f"  {r['transactions']} settled ({r['succeeded']} succeeded) in {r['seconds']} s = "
                f"{r['settled_per_second']}/s; ÷ {base} TPS = {r['ratio']}")
            self.results["scenarios"][key] = r

    def p2(self) -> None:
        r = self.settle_drain("P2", self.spread, self.p.p1_transactions)
        p1 = self.results["scenarios"].get("P1", {}).get("settled_per_second")
        if p1:
            r["ratio"] = round(p1 / r["settled_per_second"], 3)
        self.results["scenarios"]["P2"] = r

    def s_server(self) -> None:
        """S1, S2 and S4 in rounds, load from wrk: the shipped server's /health/, its activation
        accepts (JWT, rotating customers, settlement running) and, once they are settled, status
        polls of them, each divided by /health/ of the same application under plain gunicorn
        sync WSGI measured in the same round."""
        wsgi = WsgiBaseline(self.env, self.out / "logs", _free_port(), self.p.web_processes)
        wsgi.start()
        files = self.out / "wrk"
        files.mkdir(exist_ok=True)
        health = wrkload.requests_file_write(files / "health.txt", [{"method": "GET", "path": "/health/"}])
        accepts = wrkload.requests_file_write(files / "activate.txt", self.items_activate())
        s1, s2, s4 = [], [], []
        polls = None
        try:
            for i in range(self.p.s_rounds):
                run = lambda url, path: wrkload.run(url, path, seconds=self.p.s_seconds,  # noqa: E731
                                                    connections=self.p.s_connections)
                baseline = run(wsgi.url, health)
                shipped = run(self.web.url, health)
                accepted = run(self.web.url, accepts)
                base_rps = baseline["requests_per_second"]
                s1.append({"ratio": round(shipped["requests_per_second"] / base_rps, 3), "shipped_health": shipped,
                           "wsgi_health": baseline})
                s2.append({"ratio": round(accepted["requests_per_second"] / base_rps, 3), "accepts": accepted,
                           "wsgi_health": baseline})
                log(f"round {i + 1}/{self.p.s_rounds}: /health/ shipped {shipped['requests_per_second']}/s, WSGI "
                    f"{base_rps}/s; activations accepted {accepted['requests_per_second']}/s "
                    f"(statuses {accepted['statuses']}); waiting for settlement to catch up")
                self.drain(f"S round {i + 1} drain")
                polls = polls or wrkload.requests_file_write(files / "status.txt", self.items_status_poll())
                polled = run(self.web.url, polls)
                s4.append({"ratio": round(polled["requests_per_second"] / base_rps, 3), "polls": polled,
                           "wsgi_health": baseline})
                log(f"  status polls of settled transactions {polled['requests_per_second']}/s "
                    f"(statuses {polled['statuses']})")
        finally:
            wsgi.stop()
        self.results["scenarios"]["S1"] = self.median_round(s1, higher_is_better=True)
        self.results["scenarios"]["S2"] = self.median_round(s2, higher_is_better=True)
        self.results["scenarios"]["S4"] = self.median_round(s4, higher_is_better=True)

    @staticmethod
    def median_round(rounds: list[dict], *, higher_is_better: bool) -> dict:
        """The round whose ratio is the median (of two middle ones, the worse), with every
        round's ratio and raw figures under "rounds"."""
        ranked = sorted(rounds, key=lambda r: r["ratio"] if r.get("ratio") is not None else float("inf"))
        chosen = ranked[(len(ranked) - 1) // 2 if higher_is_better else len(ranked) // 2]
        return {**chosen, "round": rounds.index(chosen) + 1, "rounds": rounds}

    def p3(self) -> None:
        """P3 in rounds: each round measures its own /health/ baseline right before its
        activations (the first round uses the baselines' one), so both sides of each ratio
        see the same minute of a shared host; the report takes the median round. Between
        rounds the harness quiesces as between scenarios: the previous round's ~2,000 inserts
        and 4,000 updates would otherwise set autovacuum off inside the next one."""
        rounds = []
        for i in range(self.p.p34_rounds):
            if i == 0:
                health = self.results["baselines"]["health"]
            else:
                self.quiesce(f"P3 round {i + 1}")
                log(f"round {i + 1}/{self.p.p34_rounds}: /health/ again")
                health = self.health(f"health (P3 round {i + 1})")
            log(f"round {i + 1}/{self.p.p34_rounds}: closed loop, {self.p.p3_clients} clients, "
                f"{self.p.p3_seconds} s of activations")
            r = self.load("closed", self.items_activate(), self.p.p3_clients, self.p.p3_seconds)
            rate = round(r.ok / r.duration, 1)
            out = {"accepted_per_second": rate, "errors": r.errors, "error_kinds": r.error_kinds,
                   "requests": len(r.rows), "clients": self.p.p3_clients,
                   "health_requests_per_second": health["requests_per_second"],
                   "ratio": round(rate / health["requests_per_second"], 3),
                   **latency_summary([x[1] for x in r.rows if 200 <= x[2] < 300])}
            name = "P3" if i == 0 else f"P3 round {i + 1}"
            self.results["series"][name] = self.rate_series(r)
            self.results["latencies"][f"{name} accept (closed loop)"] = [x[1] for x in r.rows]
            log(f"  {rate} accepted/s vs /health/ {health['requests_per_second']}/s = {out['ratio']}; {r.errors} "
                f"errors {r.error_kinds or ''}; waiting for settlement to catch up")
            out["drain_after"] = self.drain("P3-drain")
            rounds.append(out)
        self.results["scenarios"]["P3"] = self.median_round(rounds, higher_is_better=True)

    def p4(self) -> None:
        """P4 in rounds, each with its own no-op round trip measured right before it (the first
        round uses the baselines' one), quiesced between rounds as P3's are; the report takes
        the median round."""
        p3 = self.results["scenarios"].get("P3", {}).get("accepted_per_second") or 20
        rate = self.p.p4_rate or max(1.0, round(p3 / 2, 1))
        rounds = []
        for i in range(self.p.p34_rounds):
            if i == 0:
                ping = self.results["baselines"]["celery_ping"]
            else:
                self.quiesce(f"P4 round {i + 1}")
                ping = self.ping(f"celery_ping (P4 round {i + 1})")
                log(f"round {i + 1}/{self.p.p34_rounds}: no-op round trip again: p50 {ping['p50_ms']} ms, "
                    f"p99 {ping['p99_ms']} ms")
            log(f"round {i + 1}/{self.p.p34_rounds}: open model at {rate}/s (50 % of P3) for "
                f"{self.p.p4_warmup_seconds} s of warm-up, then {self.p.p4_seconds} s measured; "
                f"accept -> final status via pub/sub")
            out = self.p4_round(rate, ping["p99_ms"], "P4" if i == 0 else f"P4 round {i + 1}")
            log(f"  accept->final p50 {out['accept_to_final']['p50_ms']} ms p99 {out['accept_to_final']['p99_ms']} ms "
                f"vs ping p99 {ping['p99_ms']} ms = {out['ratio']}; {out['final_status_not_seen']} not seen; "
                f"warm-up p99 {out['warmup']['accept_to_final']['p99_ms']} ms")
            if out["autovacuum_during_round"]:
                log("  autovacuum in the round (s after the load's start): " + ", ".join(
                    f"{a['kind']} {a['table']} {a['ended_after_seconds']}" for a in out["autovacuum_during_round"]))
            log("  stages p50/p99/slowest-1%-mean ms: " + "; ".join(
                f"{stage} {v['p50_ms']}/{v['p99_ms']}/{v['slowest_1pct_mean_ms']}" for stage, v in out["stages"].items()))
            rounds.append(out)
        self.results["scenarios"]["P4"] = self.median_round(rounds, higher_is_better=False)

    def p4_round(self, rate: float, ping_p99_ms: float, name: str) -> dict:
        from activation.status import STATUS_CHANNEL_PREFIX

        arrivals: dict[str, float] = {}
        stop = threading.Event()

        def listen():
            pubsub = self.cache.pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe(f"{STATUS_CHANNEL_PREFIX}*")
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message:
                    arrivals[message["channel"].decode().rsplit(":", 1)[1]] = time.time()
            pubsub.close()

        # The listener stamps arrivals in this process, which holds every earlier scenario's
        # samples: a full garbage collection here (tens of ms) would be counted as latency.
        gc.collect()
        gc.freeze()
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(0.5)
        warmup = self.p.p4_warmup_seconds
        load_started = time.time()
        r = self.load("open", self.items_activate(), rate, warmup + self.p.p4_seconds, collect_ids=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(set(r.ids) - set(arrivals)) > 0:
            time.sleep(0.2)
        stop.set()
        listener.join(5)
        gc.unfreeze()
        # The first `warmup` seconds run at the same rate but are reported apart: they carry the
        # start of the load (the generator's processes fork and open their connections) and the
        # first writes after the quiesce's CHECKPOINT (every page's first change logs a full
        # page image), which steady load spreads over a checkpoint interval.
        cut = (min(r.ids.values()) if r.ids else 0.0) + warmup
        warm = {i for i, due in r.ids.items() if due < cut}
        # accept -> final: from the 202 (the transaction is accepted) to its terminal status on
        # the pub/sub channel: the asynchronous pipeline the ping baseline is the floor of.
        # due -> final adds the HTTP request itself (open model: from when it was due).
        final = [max(arrivals[i] - accepted, 0.0) for i, accepted in r.accepted.items()
                 if i in arrivals and i not in warm]
        final_warmup = [max(arrivals[i] - r.accepted[i], 0.0) for i in warm if i in arrivals]
        end_to_end = [arrivals[i] - due for i, due in r.ids.items() if i in arrivals and i not in warm]
        missing = len(set(r.ids) - set(arrivals))
        summary = latency_summary(final)
        stages = self.p4_stages(r, arrivals, self.out / f"{name.replace(' ', '-')}-transactions.json", warm)
        measured_rows = [x for x in r.rows if x[0] >= warmup]
        out = {"offered_per_second": rate, "seconds": self.p.p4_seconds,
               "achieved_per_second": round(sum(1 for x in measured_rows if 200 <= x[2] < 300) / self.p.p4_seconds, 1),
               "errors": r.errors, "dropped": r.dropped, "accept": latency_summary([x[1] for x in measured_rows]),
               "accept_to_final": summary, "due_to_final": latency_summary(end_to_end),
               "warmup": {"seconds": warmup, "accept_to_final": latency_summary(final_warmup)},
               "final_status_not_seen": missing, "stages": stages, "celery_ping_p99_ms": ping_p99_ms,
               "autovacuum_during_round": data.autovacuum_runs_since(load_started),
               "ratio": round(summary["p99_ms"] / ping_p99_ms, 2) if summary["p99_ms"] and ping_p99_ms else None}
        self.results["latencies"][f"{name} accept -> final status"] = final
        self.results["latencies"][f"{name} due -> final status"] = end_to_end
        self.results["series"][name] = self.rate_series(r)
        if missing:
            self.failed.append(f"{name}: {missing} final status(es) never published")
        self.drain(f"{name}-drain")
        return out

    @staticmethod
    def p4_stages(r: load.Result, arrivals: dict[str, float], dump: Path, warm: set[str]) -> dict:
        """Where accept -> final goes, from the rows' own clocks (one host): created -> claimed
        (the after-commit message, the broker, the worker picking it up), claimed -> settled
        (the settlement's queries), settled -> published (finish, commit, the status call and
        its pub/sub delivery); p50/p99 of each over all transactions, and their means over the
        slowest 1 % (by accept -> final), which is what p99 is made of; the warm-up's transactions
        (`warm`) are left out. Every transaction's figures go to `dump` (JSON, in creation
        order, the warm-up's marked) for a closer look."""
        times = data.stage_times([i for i in r.accepted if i in arrivals])
        rows = []
        for i, (created, claimed, settled) in times.items():
            if claimed is None or settled is None:
                continue
            rows.append({"accept_to_final": max(arrivals[i] - r.accepted[i], 0.0),
                         "created_to_accepted": r.accepted[i] - created, "created_to_claimed": claimed - created,
                         "claimed_to_settled": settled - claimed, "settled_to_published": arrivals[i] - settled,
                         "created": created, "warmup": i in warm})
        dump.write_text(json.dumps(sorted(rows, key=lambda row: row["created"])))
        rows = [row for row in rows if not row["warmup"]]
        if not rows:
            return {}
        rows.sort(key=lambda row: row["accept_to_final"])
        slowest = rows[-max(1, len(rows) // 100):]
        out = {}
        for stage in ("created_to_accepted", "created_to_claimed", "claimed_to_settled", "settled_to_published"):
            values = [row[stage] for row in rows]
            out[stage] = {"p50_ms": _ms(pct(values, 50)), "p99_ms": _ms(pct(values, 99)),
                          "slowest_1pct_mean_ms": _ms(statistics.mean(row[stage] for row in slowest))}
        return out

    def p5(self) -> None:
        p3 = self.results["scenarios"].get("P3", {}).get("accepted_per_second") or 20
        rate = self.p.p5_rate or max(1.0, round(p3 / 2, 1))
        self.settlement_pause()
        log(f"workers paused; offering {rate} redemptions/s (hot campaign) for {self.p.p5_seconds} s")
        r = self.load("open", self.items_redeem(self.hot), rate, self.p.p5_seconds)
        backlog = data.settleable_count()
        log(f"  backlog {backlog}; resuming settlement")
        self.settlement_resume()
        d = self.drain("P5")
        self.results["latencies"]["P5 accept (open model)"] = [x[1] for x in r.rows]
        self.results["scenarios"]["P5"] = {
            "offered_per_second": rate, "achieved_per_second": round(r.ok / r.duration, 1), "errors": r.errors,
            "dropped": r.dropped, "accept": latency_summary([x[1] for x in r.rows]), "backlog": backlog,
            "drain": d, "ratio": round(d["settled_per_second"] / rate, 2)}
        log(f"  drained {d['transactions']} in {d['seconds']} s = {d['settled_per_second']}/s")

    def durable_set(self, durable: bool) -> None:
        with connection.cursor() as cursor:
            if durable:
                cursor.execute("ALTER SYSTEM RESET synchronous_commit")
                cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" RESET synchronous_commit')
            else:
                cursor.execute("ALTER SYSTEM SET synchronous_commit = off")
                cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET synchronous_commit = off')
            cursor.execute("SELECT pg_reload_conf()")
        self.cache.config_set("appendonly", "yes" if durable else "no")
        # The database-level setting applies to new sessions: fresh worker connections.
        connections.close_all()
        self.worker.stop()
        self.worker.start()

    def durable_restore(self) -> None:
        try:
            if self.results.get("non_durable"):
                with connection.cursor() as cursor:
                    cursor.execute("ALTER SYSTEM RESET synchronous_commit")
                    cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" RESET synchronous_commit')
                    cursor.execute("SELECT pg_reload_conf()")
                self.cache.config_set("appendonly", "yes")
        except Exception as exc:
            log(f"could not restore durable settings: {exc!r}")

    def worker_sync_commit(self) -> str:
        db = settings.DATABASES["default"]
        import psycopg

        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as conn:
            return conn.execute("SHOW synchronous_commit").fetchone()[0]

    def p6(self) -> None:
        self.results["non_durable"] = True
        log("synchronous_commit=off, Redis appendonly no")
        self.durable_set(False)
        fast_setting = self.worker_sync_commit()
        fast = self.settle_drain("P6-fast", self.hot, self.p.p6_transactions)
        log("durable settings back")
        self.durable_set(True)
        durable_setting = self.worker_sync_commit()
        self.results["non_durable"] = False
        durable = self.settle_drain("P6-durable", self.hot, self.p.p6_transactions)
        self.results["scenarios"]["P6"] = {
            "durable": durable, "non_durable": fast,
            "synchronous_commit_seen": {"durable": durable_setting, "non_durable": fast_setting},
            "ratio": round(durable["settled_per_second"] / fast["settled_per_second"], 3)}

    def p7(self) -> None:
        p3 = self.results["scenarios"].get("P3", {}).get("accepted_per_second") or 40
        rate = self.p.p7_rate or max(2.0, round(p3 / 4, 1))
        items = []
        redeem, activate = self.items_redeem(self.spread), self.items_activate()
        for i in range(len(self.users)):
            items += [redeem[i], activate[i], {"method": "GET", "path": "/health/"}]
        log(f"soak: {rate} req/s mixed (redeem, activate, health) for {self.p.p7_seconds} s, sampling RSS")
        samples: dict[str, list[tuple[float, int]]] = {}
        stop = threading.Event()
        interval = max(0.5, self.p.p7_seconds / 60)

        def sample():
            t0 = time.monotonic()
            while not stop.is_set():
                t = round(time.monotonic() - t0, 1)
                for proc in (self.web, self.worker):
                    for pid in proc.pids():
                        kib = rss_kib(pid)
                        if kib:
                            samples.setdefault(f"{proc.name}:{pid}", []).append((t, kib))
                stop.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        r = self.load("open", items, rate, self.p.p7_seconds)
        stop.set()
        sampler.join(5)
        growth = {}
        for name, rows in samples.items():
            if len(rows) < 4:
                continue
            warm = rows[max(1, len(rows) // 10):]  # after a warm-up tenth
            head = statistics.median(k for _, k in warm[:max(1, len(warm) // 5)])
            tail = statistics.median(k for _, k in warm[-max(1, len(warm) // 5):])
            growth[name] = {"start_mib": round(head / 1024, 1), "end_mib": round(tail / 1024, 1),
                            "growth_percent": round((tail - head) / head * 100, 2)}
        worst = max((g["growth_percent"] for g in growth.values()), default=None)
        self.results["series"]["P7"] = self.rate_series(r, bucket=max(1.0, self.p.p7_seconds / 100))
        self.results["rss"] = samples
        self.results["scenarios"]["P7"] = {"offered_per_second": rate, "achieved_per_second": round(r.ok / r.duration, 1),
                                           "errors": r.errors, "dropped": r.dropped, "seconds": self.p.p7_seconds,
                                           "latency": latency_summary([x[1] for x in r.rows]),
                                           "processes": growth, "worst_growth_percent": worst}
        log(f"  worst RSS growth {worst} %")
        self.drain("P7-drain")

    def quiesce(self, name: str) -> None:
        """Before a scenario: VACUUM ANALYZE what the previous ones wrote, CHECKPOINT, and wait
        for any autovacuum to end, so a scenario is not measured against its predecessor's cleanup
        (P3 after the 40,000-row drains of P1/P2 was). Recorded in the report."""
        t0 = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) activation_transaction, offers_campaignredemption, offers_campaign, "
                           "accounts_account, accounts_ledgerentry, offers_subscription")
            # The WAL of what came before (pgbench's 40 s, a 20,000-item drain) would otherwise
            # trigger a checkpoint inside the next scenario: its writes and fsyncs are the
            # predecessor's cost, not the scenario's.
            cursor.execute("CHECKPOINT")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
                if not cursor.fetchone()[0]:
                    break
                time.sleep(0.5)
        self.results.setdefault("quiesce_seconds", {})[name] = round(time.monotonic() - t0, 2)

    def invariants(self, name: str) -> None:
        for proc in (self.web, self.worker):
            if not proc.running:  # a scenario measured against a dead server is not a measurement
                self.failed.append(f"{name}: the {proc.name} process exited (see logs/{proc.name}.log)")
                log(f"  the {proc.name} process exited; restarting it")
                proc.start()
        checks = data.invariants_check()
        self.results["invariants"][name] = checks
        broken = {k: v for k, v in checks.items() if v}
        if broken:
            self.failed.append(f"{name}: invariants broken: {broken}")
            log(f"  INVARIANTS BROKEN after {name}: {broken}")
        else:
            log(f"  invariants hold after {name}")
