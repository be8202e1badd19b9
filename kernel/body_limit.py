"""An ASGI wrapper that caps request bodies before Django sees them.

Django's ASGI handler spools the whole body to a temporary file before any view runs, and
DRF treats a body without Content-Length (chunked) as empty. So the cap is enforced here,
on the bytes actually received: over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 in the error
shape at once; otherwise the (small) body is handed on with its real Content-Length."""
from __future__ import annotations

import json

from django.conf import settings

from kernel.errors import PayloadTooLarge, error_body
from kernel.request_id import request_id_accept


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._too_large(scope, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await self._too_large(scope, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body or declared is not None:
            headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for http.disconnect, as Django expects

        return await self.app({**scope, "headers": headers}, replay, send)

    @staticmethod
    async def _too_large(scope, send) -> None:
        payload = json.dumps(error_body(PayloadTooLarge.code, PayloadTooLarge.message)).encode()
        # Django's middleware never sees this request, so the request id is added here.
        client_id = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"x-request-id", request_id_accept(client_id).encode())]})
        await send({"type": "http.response.body", "body": payload})
