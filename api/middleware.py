"""ASGI middleware: request ids, access logs and metrics, body-size limits, timeouts.

Written as plain ASGI (not Starlette's BaseHTTPMiddleware) so streaming responses pass
through untouched and a body over the limit is refused before it is read whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import new_request_id, reset_request_id, set_request_id
from api.errors import error_body, unexpected_response
from api.metrics import Metrics

log = logging.getLogger("api.access")
_CALLER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _send_error(send: Send, status: int, message: str, type_: str, code: str) -> None:
    body = json.dumps(error_body(message, type_, code)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContext:
    """Gives each request an id (the caller's X-Request-ID if sane), logs and measures it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given and _CALLER_ID.match(given) else new_request_id()
        token = set_request_id(rid)
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Answered here, inside the request id, and not re-raised: an exception that
            # reaches the server makes it close the keep-alive connection.
            if responded:
                log.error("error after the response started", exc_info=exc)
            else:
                await unexpected_response(exc)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            log.info(
                "%s %s %d %.1fms",
                method,
                scope.get("path", ""),
                status,
                elapsed * 1000,
                extra={"status": status, "route": route, "duration_ms": round(elapsed * 1000, 1)},
            )
            reset_request_id(token)


def _route_template(scope: Scope) -> str:
    # The matched route's template keeps label cardinality bounded (not one series per KB).
    # FastAPI >= 0.16x keeps the prefixed template in its effective route context; the
    # route object itself holds the path without the router's prefix.
    fastapi_scope: Any = scope.get("fastapi") or {}
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else "unmatched"


class BodyTooLarge(HTTPException):
    """413 with its error code; an HTTPException because FastAPI re-raises those from parsing."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(413, detail=message)
        self.code = code


class BodyLimit:
    """Refuses bodies over the limit with 413: multipart uploads have their own, larger one."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctype = _header(scope, b"content-type") or ""
        upload = ctype.startswith("multipart/")
        limit = self.max_upload if upload else self.max_body
        code = "upload_too_large" if upload else "body_too_large"
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_error(send, 413, _too_large(limit), "request_too_large", code)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # FastAPI re-raises an HTTPException from body parsing as it is, so the
                    # route's error handlers answer 413 even mid-parse.
                    raise BodyTooLarge(_too_large(limit), code)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            if not started:
                await _send_error(send, 413, _too_large(limit), "request_too_large", code)


def _too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


class Timeout:
    """504 for a request whose response has not started within the limit.

    Once a response has started (a stream is flowing) the request runs on: a stream ends
    when its generation does or when the client goes away.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, tracking_send))
        waiter = asyncio.ensure_future(started.wait())
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=self.seconds, return_when="FIRST_COMPLETED"
        )
        if not done:
            task.cancel()
            waiter.cancel()
            await asyncio.gather(task, waiter, return_exceptions=True)
            await _send_error(
                send,
                504,
                f"the request did not finish within {self.seconds:g} s",
                "timeout_error",
                "request_timeout",
            )
            return
        waiter.cancel()
        await task
