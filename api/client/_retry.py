"""When to retry a failed request, and how long to wait first.

Retried: 429, 500, 502, 503, 504 and transport errors (refused connections, timeouts, dropped
connections), at most `max_retries` times. The wait is `min(max_backoff, backoff * 2**attempt)`
plus up to 10% jitter, unless the response says `Retry-After` (seconds or an HTTP date): then
exactly that, capped at `retry_after_cap`.

A request whose repeat would not give the same result (`replay=False`: create or delete a KB,
delete documents, cancel a job) is retried only when the server cannot have acted on it: a
429 (the rate limiter refuses before any route runs) or a connection that was never made.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_CAP = 120.0
# Jitter spreads the retries of many clients that were refused at the same moment.
JITTER = 0.1
# The request never left this machine: repeating it cannot make the server act twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from `Retry-After` (delta seconds or an HTTP date); None if absent."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    return max(0.0, seconds) if math.isfinite(seconds) else None


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

    def backoff_delay(self, attempt: int) -> float:
        """The exponential wait before retry number `attempt + 1`, with jitter."""
        base = min(self.max_backoff, self.backoff * 2.0 ** min(attempt, 64))
        return base + random.uniform(0.0, base * JITTER)

    def after_response(
        self, attempt: int, status: int, headers: Mapping[str, str], *, replay: bool
    ) -> float | None:
        """The wait before retrying after an error status; None: do not retry."""
        if attempt >= self.max_retries or status not in RETRY_STATUS:
            return None
        if status != 429 and not replay:
            return None
        told = parse_retry_after(headers.get("retry-after"))
        if told is not None:
            return min(told, self.retry_after_cap)
        return self.backoff_delay(attempt)

    def after_error(
        self, attempt: int, error: httpx.TransportError, *, replay: bool
    ) -> float | None:
        """The wait before retrying after a transport error; None: do not retry."""
        if attempt >= self.max_retries or not (replay or isinstance(error, NOT_SENT)):
            return None
        return self.backoff_delay(attempt)
