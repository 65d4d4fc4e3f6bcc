"""Per-key rate limits on the `limits` library: requests and generated tokens per minute.

Embedded, the counters live in this process's memory; scaled out (RAG_REDIS_URL) they live in
Redis, so every API replica counts against one limit per key. Each limit is a sliding window
counter (the previous minute's count weighted by how much of it still overlaps, plus this
minute's): it needs two counters per key, not one entry per request, so a token budget of
20,000 costs no more than a request limit of 120.

Generated tokens are only known after a generation, so they are charged afterwards: a
generation that overshoots spends the rest of the budget, and the key's next generation waits
for the window to move on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from api.errors import ApiError

log = logging.getLogger("api.ratelimit")
# The failed-authentication throttle (api/auth/throttle.py) keeps per-address token buckets in
# each process: a client failing keys against several replicas is slowed by each of them.
# How often idle buckets are swept; a bucket refills completely within a minute of idleness
# (unless deep in deficit), so a sweep per minute keeps memory proportional to active keys.
_SWEEP_SECONDS = 60.0


class Buckets:
    """One bucket per key, `capacity` units, refilled at `capacity` per minute. Not locked."""

    def __init__(self, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("a rate limit must allow at least 1 per minute")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # units per second
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, when measured)

    def level(self, key: str, now: float) -> float:
        level, stamp = self._levels.get(key, (self.capacity, now))
        return min(self.capacity, level + max(0.0, now - stamp) * self.rate)

    def set(self, key: str, level: float, now: float) -> None:
        self._levels[key] = (level, now)

    def wait(self, level: float) -> int:
        """Whole seconds until `level` reaches one unit (at least 1, as Retry-After)."""
        return max(1, math.ceil((1.0 - level) / self.rate))

    def sweep(self, now: float) -> None:
        """Forget full buckets: a missing bucket reads as full, so nothing changes."""
        full = [k for k in self._levels if self.level(k, now) >= self.capacity]
        for key in full:
            del self._levels[key]

    def __len__(self) -> int:
        return len(self._levels)


def _limited(message: str, code: str, retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"{message}; retry after {retry_after} s",
        type="rate_limit_error",
        code=code,
        headers={"Retry-After": str(retry_after)},
    )


def storage_uri(redis_url: str | None) -> str:
    """Where the counters live: Redis when the deployment has one, else this process."""
    return redis_url if redis_url else "memory://"


class RateLimiter:
    """Requests and generated tokens per window (a minute), per key id; thread-safe."""

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        storage_uri: str = "memory://",
        window: int = 60,
    ) -> None:
        if requests_per_minute < 1 or tokens_per_minute < 1:
            raise ValueError("a rate limit must allow at least 1 per minute")
        self._requests = RateLimitItemPerSecond(
            requests_per_minute, window, namespace="rag-requests"
        )
        self._tokens = RateLimitItemPerSecond(tokens_per_minute, window, namespace="rag-tokens")
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        self._shared = not storage_uri.startswith("memory://")

    def hit(self, key_id: str) -> None:
        """Count one request; 429 when the key has used its requests for now."""
        if not self._guarded(self._limiter.hit, self._requests, key_id, 1):
            raise _limited(
                f"rate limit of {self._requests.amount} requests per minute reached",
                "rate_limited",
                self._retry_after(self._requests, key_id),
            )

    def check_tokens(self, key_id: str) -> None:
        """Before a generation: 429 while the key's generated-token budget is spent."""
        if not self._guarded(self._limiter.test, self._tokens, key_id, 1):
            raise _limited(
                f"rate limit of {self._tokens.amount} generated tokens per minute reached",
                "token_rate_limited",
                self._retry_after(self._tokens, key_id),
            )

    def charge_tokens(self, key_id: str, n: int) -> None:
        """After a generation: take its `n` tokens from the budget, all that is left if more."""
        if n <= 0:
            return
        if self._guarded(self._limiter.hit, self._tokens, key_id, n):
            return
        left = self._limiter.get_window_stats(self._tokens, key_id).remaining
        if left > 0:
            self._guarded(self._limiter.hit, self._tokens, key_id, left)

    def _retry_after(self, item: RateLimitItem, key_id: str) -> int:
        reset = self._limiter.get_window_stats(item, key_id).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _guarded(
        self, call: Callable[..., bool], item: RateLimitItem, key_id: str, cost: int
    ) -> bool:
        """The limiter's answer; True (allowed) when the shared storage cannot be reached.

        Failing open: a Redis outage must not take the whole API down with it; the limits
        come back with Redis.
        """
        if not self._shared:
            return call(item, key_id, cost=cost)
        try:
            return call(item, key_id, cost=cost)
        except Exception:
            log.warning("rate-limit storage unreachable; request allowed", exc_info=True)
            return True
