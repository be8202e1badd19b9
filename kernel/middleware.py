"""A base for the platform's own middleware: it serves sync and async requests as they come
(the status route is async, everything else sync) without a thread hop, where
MiddlewareMixin runs its hooks through sync_to_async on every async request."""
from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class SyncAndAsyncMiddleware:
    """Subclasses write `handle(request)` and `async ahandle(request)`; the one that matches
    the chain the middleware sits in answers."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.ahandle(request)
        return self.handle(request)

    def handle(self, request):
        raise NotImplementedError

    async def ahandle(self, request):
        raise NotImplementedError
