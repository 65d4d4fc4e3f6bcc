"""Failed authentication, throttled per client address.

Every 401 the service answers takes one unit from the client address's bucket (the per-key
token buckets of `api.ratelimit`, keyed by address); an address whose bucket is empty gets
429 with `Retry-After` for every request, before any key is looked up, until it refills. A
well-behaved client with a valid key never fails authentication, so it is never slowed.
Behind a reverse proxy the address is the one uvicorn takes from X-Forwarded-For.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.ratelimit import Buckets

_SWEEP_SECONDS = 60.0


class FailedAuthThrottle:
    """ASGI middleware: at most `per_minute` failed authentications per client address."""

    def __init__(
        self, app: ASGIApp, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self._buckets = Buckets(per_minute)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sweep = clock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else ""
        with self._lock:
            now = self._now()
            level = self._buckets.level(address, now)
        if level < 1.0:
            await self._refuse(scope, receive, send, self._buckets.wait(level))
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                with self._lock:
                    now = self._now()
                    self._buckets.set(address, self._buckets.level(address, now) - 1.0, now)
            await send(message)

        await self.app(scope, receive, counting_send)

    def _now(self) -> float:
        """The clock, sweeping refilled buckets once a minute. Called under the lock."""
        now = self._clock()
        if now - self._last_sweep >= _SWEEP_SECONDS:
            self._buckets.sweep(now)
            self._last_sweep = now
        return now

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, retry_after: int) -> None:
        message = (
            f"too many failed authentications from this address (limit {self.per_minute} per "
            f"minute); retry after {retry_after} s"
        )
        body = error_body(message, "rate_limit_error", "auth_throttled")
        headers = {"retry-after": str(retry_after)}
        await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
