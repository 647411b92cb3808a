"""An ASGI wrapper that refuses an oversized HTTP request body before Django buffers it.

Django reads a request's whole body before calling the view, so a 200 MB
POST, even anonymous and to a URL that does not exist, was held in memory
first. Here a declared ``Content-Length`` over the path's limit is answered
413 at once, without reading the body; a body sent without one (chunked) is
counted as it arrives and cut off at the limit. Uploads (a model, a results
file) may reach ``MAX_MODEL_UPLOAD_BYTES``; any other body
``MAX_REQUEST_BODY_BYTES``. The reverse proxy in front (README) should
refuse even earlier, before the server reads the bytes off the socket.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# Paths whose body is a file upload (multipart overhead allowed on top of the file limit).
UPLOAD_PATHS = ("/models/upload/", "/api/models/", "/api/results/import")
MULTIPART_ALLOWANCE = 1024 * 1024
# A runner host's compressed files, PUT raw under their SHA-256 (webapp/api/runners.py).
RAW_UPLOAD_PREFIX = "/api/runner/uploads/"


def body_limit(path: str) -> int:
    """The most bytes a request body to ``path`` may hold."""
    if path.rstrip("/") in {p.rstrip("/") for p in UPLOAD_PATHS}:
        return settings.MAX_MODEL_UPLOAD_BYTES + MULTIPART_ALLOWANCE
    if path.startswith(RAW_UPLOAD_PREFIX):
        return settings.MAX_MODEL_UPLOAD_BYTES
    return settings.MAX_REQUEST_BODY_BYTES


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else -1
    return None


async def refuse(send: Send, status: int, message: str) -> None:
    """A JSON error answer; the connection is closed after it (the body is not read)."""
    body = json.dumps({"detail": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Wraps the HTTP application; WebSocket and lifespan scopes pass through."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared == -1:
            await refuse(send, 400, "The Content-Length header is not a byte count.")
            return
        if declared is not None and declared > limit:
            await refuse(send, 413, _too_large(declared, limit))
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True  # Django sees a disconnect and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, watching_send)
        if over and not started:
            await refuse(send, 413, _too_large(received, limit))


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is over {limit} bytes (got at least {size}); it was refused "
        "before being read. Upload limits: MAX_MODEL_UPLOAD_BYTES for files, "
        "MAX_REQUEST_BODY_BYTES for anything else."
    )
