"""The web server's entry point: one ASGI application in front of two Django handlers.

* The transaction status route (`activation/status/<id>/`, polled and long-polled with
  `?wait=`) goes to Django's ASGI handler with the route's own middleware
  (kernel/status_route.py), where its async view waits on a Redis pub/sub message inside
  the event loop: a waiting client holds no thread and no pooled database connection.
* Every other request goes to Django's WSGI handler, run on a fixed pool of threads
  (kernel/wsgi_threads.py: one thread hand-over per request). Under Django's ASGI handler
  each sync view and middleware is a hop to a fresh thread (a new thread per request,
  `ThreadSensitiveContext`): that served 94–216 `/health/` requests/s where plain WSGI
  served 1,322–1,390 on the same machine (docs/PERFORMANCE.md).

The request body cap (`BodySizeLimit`) sits in front of both."""
import os
import re

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# A request on the async route runs its sync parts on a new thread each time, so a persistent
# connection (CONN_MAX_AGE) would never be reused there: both handlers share a psycopg pool.
os.environ.setdefault("DB_POOL", "1")
django_wsgi = get_wsgi_application()

from kernel.body_limit import BodySizeLimit  # noqa: E402
from kernel.status_route import StatusRouteHandler  # noqa: E402
from kernel.wsgi_threads import WsgiOnThreads  # noqa: E402

ASYNC_ROUTE = re.compile(r"^/api/v1/activation/status/[^/]+/?$")


class AsyncRouteSplit:
    """Sends the async route to Django's ASGI handler, everything else to its WSGI handler on
    `threads` threads (WEB_THREADS, default 8: the size of the connection pool,
    DB_POOL_MAX_SIZE)."""

    def __init__(self, asgi_app, wsgi_app, threads: int):
        self.asgi_app = asgi_app
        self.wsgi_app = WsgiOnThreads(wsgi_app, threads)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not ASYNC_ROUTE.match(scope["path"]):
            return await self.wsgi_app(scope, receive, send)
        if scope["type"] == "lifespan":  # neither handler has startup work
            return await _lifespan_accept(receive, send)
        return await self.asgi_app(scope, receive, send)


async def _lifespan_accept(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


application = BodySizeLimit(AsyncRouteSplit(StatusRouteHandler(), django_wsgi, int(os.environ.get("WEB_THREADS", "8"))))
