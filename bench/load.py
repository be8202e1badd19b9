"""Load from 127.0.0.1. Open model (fixed arrival rate; latency is measured from the moment a
request was *due*, so a slow server cannot hide queueing) and closed model (N clients in a
loop, for capacity). Several OS processes so the generator is not one core's worth of Python.
The client is aiohttp: ~0.2 ms of CPU per request where httpx took ~1.6 ms, CPU the server
under test would otherwise lose to its load generator (docs/PERFORMANCE.md#the-load-generator)."""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from dataclasses import dataclass, field

import aiohttp


OPEN_MODEL_START_SECONDS = 0.5  # forking the load processes takes tens of ms


@dataclass
class Result:
    # one row per request: (due time since start, latency seconds, HTTP status or 0 for an error)
    rows: list[tuple[float, float, int]] = field(default_factory=list)
    dropped: int = 0  # open model: due while max_inflight requests were outstanding
    duration: float = 0.0
    ids: dict[str, float] = field(default_factory=dict)  # transaction id -> absolute due time (epoch)
    accepted: dict[str, float] = field(default_factory=dict)  # transaction id -> when its 202 arrived (epoch)
    error_kinds: dict[str, int] = field(default_factory=dict)  # HTTP status or exception name -> count

    def merge(self, other: "Result") -> None:
        self.rows += other.rows
        self.dropped += other.dropped
        self.duration = max(self.duration, other.duration)
        self.ids.update(other.ids)
        self.accepted.update(other.accepted)
        for kind, n in other.error_kinds.items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + n

    @property
    def ok(self) -> int:
        return sum(1 for r in self.rows if 200 <= r[2] < 300)

    @property
    def errors(self) -> int:
        return len(self.rows) - self.ok


def _session(base_url: str, connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=base_url, connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=60))


async def _one(client: aiohttp.ClientSession, item: dict, result: Result, due: float, t0: float, epoch0: float,
               collect_ids: bool) -> None:
    status = 0
    try:
        async with client.request(item["method"], item["path"], headers=item.get("headers"),
                                  json=item.get("json")) as response:
            status = response.status
            if collect_ids and status == 202:
                transaction_id = (await response.json())["transaction_id"]
                result.ids[transaction_id] = epoch0 + (due - t0)
                result.accepted[transaction_id] = time.time()
            else:
                await response.read()
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError) as exc:
        status = 0
        result.error_kinds[type(exc).__name__] = result.error_kinds.get(type(exc).__name__, 0) + 1
    else:
        if not 200 <= status < 300:
            result.error_kinds[str(status)] = result.error_kinds.get(str(status), 0) + 1
    result.rows.append((due - t0, time.monotonic() - due, status))


async def open_model(base_url: str, items: list[dict], rate: float, duration: float, *, max_inflight: int = 2000,
                     collect_ids: bool = False, offset: int = 0, phase: float = 0.0,
                     start_at: float | None = None) -> Result:
    """Requests due every 1/rate s from `start_at` (epoch; default now) plus `phase` s: several
    processes given the same start and phases 0, 1/R, 2/R... interleave into one evenly spaced
    schedule at R/s (started together without phases, they fired in simultaneous pairs)."""
    result = Result()
    async with _session(base_url, max_inflight) as client:
        now, epoch = time.monotonic(), time.time()
        epoch0 = start_at if start_at is not None else epoch
        t0 = now + (epoch0 - epoch)
        pending: set[asyncio.Task] = set()
        n = int(rate * duration)
        for i in range(n):
            due = t0 + phase + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(pending) >= max_inflight:
                result.dropped += 1
                continue
            task = asyncio.create_task(_one(client, items[(offset + i) % len(items)], result, due, t0, epoch0,
                                            collect_ids))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)
        result.duration = max(duration, time.monotonic() - t0)
    return result


async def closed_model(base_url: str, items: list[dict], concurrency: int, duration: float, offset: int = 0) -> Result:
    result = Result()
    async with _session(base_url, concurrency) as client:
        t0 = time.monotonic()
        stop = t0 + duration
        counter = iter(range(offset, 10**12))

        async def loop() -> None:
            while time.monotonic() < stop:
                await _one(client, items[next(counter) % len(items)], result, time.monotonic(), t0, 0.0, False)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        result.duration = time.monotonic() - t0
        result.rows = [(due + lat, lat, st) for due, lat, st in result.rows]  # time of completion
    return result


def _run(args: tuple) -> Result:
    kind, base_url, items, a, duration, offset, collect_ids, nice, phase, start_at = args
    if nice:
        os.nice(nice)
    if kind == "open":
        return asyncio.run(open_model(base_url, items, a, duration, collect_ids=collect_ids, offset=offset,
                                      phase=phase, start_at=start_at))
    return asyncio.run(closed_model(base_url, items, a, duration, offset=offset))


def run(kind: str, base_url: str, items: list[dict], amount: float, duration: float, procs: int = 2,
        collect_ids: bool = False, nice: int = 0) -> Result:
    """`amount` is the total rate (open) or the total number of clients (closed), split over procs.
    Open: the processes' schedules interleave (process i's requests due i/amount s after the
    others'), from a start far enough ahead for every process to be forked and ready."""
    procs = max(1, procs)
    share = amount / procs if kind == "open" else max(1, int(amount // procs))
    stride = len(items) // procs or 1
    start_at = time.time() + OPEN_MODEL_START_SECONDS
    jobs = [(kind, base_url, items, share, duration, i * stride, collect_ids, nice, i / amount, start_at)
            for i in range(procs)]
    result = Result()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(procs) as pool:
        for part in pool.map(_run, jobs):
            result.merge(part)
    result.rows.sort()
    return result
