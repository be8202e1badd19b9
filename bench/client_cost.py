"""python -m bench.client_cost URL [N]: the load generator's own CPU per request, httpx against
aiohttp (which bench/load.py uses), alternated twice: N GETs of URL, 8 at a time, each client
in this one process, CPU time by `time.process_time`. Run against a server on another process
(e.g. the shipped server's /health/: `make run`, then `python -m bench.client_cost
http://127.0.0.1:8000/health/`)."""
import asyncio
import sys
import time

import aiohttp
import httpx

CONCURRENCY = 8


async def _httpx(url: str, n: int) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one():
            async with gate:
                (await client.get(url)).read()

        await asyncio.gather(*(one() for _ in range(n)))


async def _aiohttp(url: str, n: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one():
            async with gate, client.get(url) as response:
                await response.read()

        await asyncio.gather(*(one() for _ in range(n)))


def main() -> None:
    url = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    for name, run in (("httpx", _httpx), ("aiohttp", _aiohttp)) * 2:
        cpu, wall = time.process_time(), time.monotonic()
        asyncio.run(run(url, n))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        print(f"{name:8s} {cpu / n * 1000:.3f} ms of CPU per request, {n / wall:.0f} requests/s")


if __name__ == "__main__":
    main()
