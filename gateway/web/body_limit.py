"""A request body limit enforced before anything parses the body (pure ASGI middleware).

A declared ``Content-Length`` over the limit is refused with 413 before the
application sees the request. A body without one (chunked) is counted as it
arrives: once over the limit, the 413 goes out at once and the application is
told the client left, so nothing is buffered past the limit. Routes that import
CSV (a POST or PUT to a path ending in ``/import`` or ``.csv``) get the larger
import limit; every other route the small default.
"""

from __future__ import annotations

import json

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def is_import(method: str, path: str) -> bool:
    return method in ("POST", "PUT") and path.endswith(("/import", ".csv"))


class BodyLimit:
    def __init__(self, app: ASGIApp, *, default: int, imports: int) -> None:
        self.app = app
        self.default = default
        self.imports = imports

    def limit_for(self, method: str, path: str) -> int:
        return self.imports if is_import(method, path) else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and (declared < 0 or declared > limit):
            await _refuse(send, limit, 400 if declared < 0 else 413)
            return
        received = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started and not refused:
                        refused = True
                        await _refuse(send, limit, 413)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; what the application says after it is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except ClientDisconnect:
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _refuse(send: Send, limit: int, status: int) -> None:
    if status == 413:
        detail = f"the request body is larger than {limit // 1024} KiB"
    else:
        detail = "the Content-Length header is not a number"
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
