"""Waiting before an HTTP retry: what the server asked for, else the caller's back-off.

tenacity drives the retry loops (the vLLM backend's and the API client's); this module adds
the one thing tenacity does not know about HTTP, the `Retry-After` header (delay seconds or an
HTTP date, RFC 9110 section 10.2.3). The wait reads it from the attempt's outcome: a returned
`httpx.Response`, or an exception carrying one in `.response` (`httpx.HTTPStatusError`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx
from tenacity import RetryCallState
from tenacity.wait import wait_base


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` value; None when absent or unreadable."""
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


def response_of(state: RetryCallState) -> httpx.Response | None:
    """The HTTP response of the attempt just made, if it got one."""
    outcome = state.outcome
    if outcome is None:
        return None
    if outcome.failed:
        response = getattr(outcome.exception(), "response", None)
        return response if isinstance(response, httpx.Response) else None
    result = outcome.result()
    return result if isinstance(result, httpx.Response) else None


def retry_after_of(state: RetryCallState) -> float | None:
    """Seconds the last response asked to wait (`Retry-After`), if it asked."""
    response = response_of(state)
    return None if response is None else parse_retry_after(response.headers.get("retry-after"))


class wait_retry_after(wait_base):
    """The server's `Retry-After`, at most `cap` seconds, when it sent one; else `fallback`."""

    def __init__(self, fallback: wait_base, cap: float = math.inf) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        told = retry_after_of(retry_state)
        return min(told, self.cap) if told is not None else self.fallback(retry_state)
