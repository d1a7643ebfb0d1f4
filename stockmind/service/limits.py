"""Request body limit: 413 as soon as a declared Content-Length is too large, and while streaming.

FastAPI's own `max_body_size` answers the declared case in plain text, and our errors are JSON, so
the service has this small ASGI middleware instead. A body over the limit is never read to its end:
with a Content-Length the request is refused before the app runs; a chunked body stops being read
at the first byte past the limit (`BodyTooLarge` is an HTTPException, so FastAPI's body parsing
passes it through to the JSON error handler rather than calling it a parse error).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockmind.service.errors import json_error


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body is over the {limit}-byte limit")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            problem = BodyTooLarge(self.max_bytes) if declared.isdigit() else None
            status, message = (413, problem.detail) if problem else (400, "Content-Length is not a number")
            await json_error(status, "body_too_large" if problem else "bad_request", message)(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as error:
            if started:
                raise
            await json_error(413, "body_too_large", error.detail)(scope, receive, send)
