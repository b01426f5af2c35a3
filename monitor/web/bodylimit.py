"""A cap on request bodies, enforced before the app reads them.

Nothing Earshot accepts (a note, a state change, a sign-in form) is more than a few
kilobytes, but without a cap a client could send any size: a 20 MB JSON body once held
the event loop for half a minute while it was parsed and validated. `BodyLimit` is the
outermost middleware, so it refuses a body as early as possible:

* a declared `Content-Length` over the limit is answered 413 without reading a byte;
* a body without one (chunked) is counted as it streams in, and reading stops at the
  first chunk past the limit; whatever the app was about to answer is replaced by 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_000_000


class BodyTooLarge(Exception):
    """Raised into the app by `receive` once the body passes the limit (the app cannot go on reading it)."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the server rejects these; if one gets through, count the bytes instead
                return None
    return None


def _wants_html(scope: Scope) -> bool:
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept"), b"")
    return b"text/html" in accept and not scope.get("path", "").startswith("/api/")


class BodyLimit:
    """ASGI middleware: request bodies over `max_bytes` are answered 413 and never read to the end."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return

        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise BodyTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # the app's answer to a body it could not finish reading: the 413 replaces it
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        limit = f"{self.max_bytes:,} bytes"
        if _wants_html(scope):
            body = (f"<!doctype html><title>Too large · Earshot</title><h1>Too large</h1>"
                    f"<p>Earshot accepts at most {limit} in a request.</p>").encode()
            content_type = b"text/html; charset=utf-8"
        else:
            body = json.dumps({"detail": f"the request body is too large: at most {limit}"}).encode()
            content_type = b"application/json"
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})
