"""A WSGI application served from an ASGI server on a fixed pool of threads, one hop per request.

a2wsgi (the library that does this) reads the body and sends the status line and every body
chunk from the worker thread back through the event loop, waiting for the loop each time:
four thread/loop round trips for a small POST, each also a GIL hand-over. Here the request
body is read on the loop (kernel/body_limit.py has already buffered and capped it), the
application runs on a thread and hands back its whole response, and the loop sends it: one
round trip. Only a streaming response (a file, a CSV export) goes chunk by chunk, each chunk
produced on a thread.

Measured with wrk against a2wsgi 1.10.10 in front of the same app, 2 processes of 8 threads,
alternating, on the shared 2-core host: activation accepts 232 vs 201/s and 172 vs 147/s
(web CPU 4.4-4.7 vs 5.3-5.6 ms per accept); `/health/` 1,061-1,687 vs 484-1,026/s."""
from __future__ import annotations

import asyncio
import contextvars
import io
import sys
from concurrent.futures import ThreadPoolExecutor

_END = object()


class WsgiOnThreads:
    def __init__(self, app, threads: int):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        loop = asyncio.get_running_loop()
        # The request's context (its request id, set by the app on the thread) stays the request's.
        context = contextvars.copy_context()
        status, headers, content, stream = await loop.run_in_executor(
            self.executor, context.run, self._respond, _environ(scope, bytes(body)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if stream is None:
            await send({"type": "http.response.body", "body": content})
            return
        try:
            while (chunk := await loop.run_in_executor(self.executor, context.run, next, stream, _END)) is not _END:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await loop.run_in_executor(self.executor, context.run, _close, stream.iterable)

    def _respond(self, environ: dict):
        """On a worker thread: runs the application. A whole response comes back as bytes
        (the iterable closed here, so Django's request_finished runs on this thread); a
        streaming one as an iterator to be drained chunk by chunk."""
        started: list = []

        def start_response(status: str, response_headers, exc_info=None):
            started[:] = [int(status.split(" ", 1)[0]),
                          [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in response_headers]]
            return _no_write

        iterable = self.app(environ, start_response)
        if getattr(iterable, "streaming", False):
            return started[0], started[1], b"", _Stream(iterable)
        try:
            content = b"".join(iterable)
        finally:
            _close(iterable)
        return started[0], started[1], content, None


class _Stream:
    def __init__(self, iterable):
        self.iterable = iterable
        self.iterator = iter(iterable)

    def __next__(self):
        return next(self.iterator)


def _close(iterable) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _no_write(data: bytes) -> None:
    raise NotImplementedError("write() is not supported: return the body from the application")


def _environ(scope: dict, body: bytes) -> dict:
    """PEP 3333's environ for an ASGI HTTP scope, as a2wsgi and asgiref build it."""
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf8").decode("latin1"),
        "PATH_INFO": scope["path"].encode("utf8").decode("latin1"),
        "QUERY_STRING": scope["query_string"].decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or 0),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if client := scope.get("client"):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for name, value in scope.get("headers", []):
        key = name.decode("latin1").upper().replace("-", "_")
        if key not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            key = "HTTP_" + key
        value = value.decode("latin1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
