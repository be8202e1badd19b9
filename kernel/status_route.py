"""Django's ASGI handler for the status route (`activation/status/<id>/`, polled and
long-polled), the one route config/asgi.py sends to it, with the middleware that route needs
and none that hops to a thread.

Under Django's ASGI handler, MiddlewareMixin runs each hook through sync_to_async, on a
thread Django starts for every request: with the API's full MIDDLEWARE a status poll cost
5.5–8 ms of web CPU, twice an accepted activation; with this list 2.6 ms (docs/PERFORMANCE.md,
run 19); without the thread per request (`StatusRouteHandler.__call__`) 1.4–1.6 ms. The route
is authenticated by a bearer token in its view, never by a session or a cookie, so it needs
no session, CSRF, message or auth middleware; the Django and django-prometheus middleware it
keeps do no I/O in their hooks, which therefore run in the event loop."""
from contextlib import contextmanager

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django_prometheus.middleware import PrometheusAfterMiddleware, PrometheusBeforeMiddleware

STATUS_ROUTE_MIDDLEWARE = [
    "kernel.request_id.RequestIdMiddleware",
    "kernel.status_route.PrometheusBeforeInEventLoop",
    "kernel.status_route.SecurityInEventLoop",
    "corsheaders.middleware.CorsMiddleware",
    "kernel.trailing_slash.ApiTrailingSlashMiddleware",
    "kernel.status_route.XFrameOptionsInEventLoop",
    "kernel.status_route.PrometheusAfterInEventLoop",
]


class StatusRouteHandler(ASGIHandler):
    async def __call__(self, scope, receive, send):
        """Django's, without its ThreadSensitiveContext: that gives every request a thread of its
        own, kept (idle) for as long as a long-poll waits. The route's few sync calls (the
        request signals' receivers, the response's close) run on asgiref's one shared thread
        instead, and the view's database reads on the loop's executor (kernel/async_db.py)."""
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def load_middleware(self, is_async=False):
        with _middleware_setting(STATUS_ROUTE_MIDDLEWARE):
            super().load_middleware(is_async)


@contextmanager
def _middleware_setting(middleware: list[str]):
    """MIDDLEWARE as Django's handler reads it while it builds its chain (once, at startup)."""
    full = settings.MIDDLEWARE
    settings.MIDDLEWARE = middleware
    try:
        yield
    finally:
        settings.MIDDLEWARE = full


class HooksInEventLoop:
    """Mixed in before a MiddlewareMixin whose hooks do no I/O: in an async chain they run in
    the event loop. process_view is awaited by Django when it is a coroutine function;
    process_exception stays sync (Django calls it on a thread in either case)."""

    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityInEventLoop(HooksInEventLoop, SecurityMiddleware):
    pass


class XFrameOptionsInEventLoop(HooksInEventLoop, XFrameOptionsMiddleware):
    pass


class PrometheusBeforeInEventLoop(HooksInEventLoop, PrometheusBeforeMiddleware):
    pass


class PrometheusAfterInEventLoop(HooksInEventLoop, PrometheusAfterMiddleware):
    async def process_view(self, request, view_func, *view_args, **view_kwargs):
        return PrometheusAfterMiddleware.process_view(self, request, view_func, *view_args, **view_kwargs)

    async def process_template_response(self, request, response):
        return PrometheusAfterMiddleware.process_template_response(self, request, response)
