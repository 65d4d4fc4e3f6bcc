"""When to retry a failed request, and how long to wait first.

Retried: 429, 500, 502, 503, 504 and transport errors (refused connections, timeouts, dropped
connections), at most `max_retries` times. The wait is `min(max_backoff, backoff * 2**attempt)`
plus up to 10% jitter, unless the response says `Retry-After` (seconds or an HTTP date): then
exactly that, capped at `retry_after_cap` (120 s).

A request whose repeat would not give the same result (`replay=False`: create or delete a KB,
delete documents, cancel a job) is retried only when the server cannot have acted on it: a
429 (the rate limiter refuses before any route runs) or a connection that was never made.

tenacity runs the loop (`Retrying`, `AsyncRetrying`); `rag.http_retry` reads `Retry-After`
from the failed try's response (`RagAPIError.response`).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from api.client.errors import RagAPIError
from rag.http_retry import wait_retry_after

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_CAP = 120.0
# Jitter spreads the retries of many clients that were refused at the same moment.
JITTER = 0.1
# The request never left this machine: repeating it cannot make the server act twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class wait_backoff(wait_exponential):
    """tenacity's exponential wait plus up to `JITTER` of it (its own jitter is absolute)."""

    def __call__(self, retry_state: RetryCallState) -> float:
        base = super().__call__(retry_state)
        return base + random.uniform(0.0, base * JITTER)


def retryable(error: BaseException, *, replay: bool) -> bool:
    """Whether a try that failed with `error` may be sent again."""
    if isinstance(error, RagAPIError):
        return error.status in RETRY_STATUS and (replay or error.status == 429)
    if isinstance(error, httpx.TransportError):
        return replay or isinstance(error, NOT_SENT)
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait between tries."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    retry_after_cap: float = RETRY_AFTER_CAP

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("max_retries, backoff and max_backoff must be >= 0")

    def retrying(self, *, replay: bool, retry: bool, sleep: Callable[[float], None]) -> Retrying:
        """The blocking retry loop of one call (`retry` False: one try only)."""
        return Retrying(sleep=sleep, **self._options(replay, retry))

    def async_retrying(
        self, *, replay: bool, retry: bool, sleep: Callable[[float], Awaitable[None]]
    ) -> AsyncRetrying:
        """The asyncio retry loop of one call."""
        return AsyncRetrying(sleep=sleep, **self._options(replay, retry))

    def _options(self, replay: bool, retry: bool) -> dict[str, Any]:
        backoff = wait_backoff(multiplier=self.backoff, max=self.max_backoff)
        return {
            "stop": stop_after_attempt(self.max_retries + 1 if retry else 1),
            "wait": wait_retry_after(backoff, cap=self.retry_after_cap),
            "retry": retry_if_exception(lambda error: retryable(error, replay=replay)),
            "reraise": True,  # the last try's own error, not tenacity's RetryError
        }
