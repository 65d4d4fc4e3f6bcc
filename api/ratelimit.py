"""Per-key rate limits: token buckets for requests and for generated tokens.

A bucket holds up to one minute's allowance and refills continuously, so a key may burst up
to its per-minute limit and then proceeds at the steady rate. Generated tokens are only known
after a generation, so they are charged afterwards and may drive the bucket negative: the
key's next generation then waits until the deficit has refilled.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from api.errors import ApiError

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


class RateLimiter:
    """Requests and generated tokens per minute, per key id; safe to share between threads."""

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requests = Buckets(requests_per_minute)
        self._tokens = Buckets(tokens_per_minute)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def hit(self, key_id: str) -> None:
        """Count one request; 429 when the key has used its requests for now."""
        with self._lock:
            now = self._now()
            level = self._requests.level(key_id, now)
            if level < 1.0:
                raise _limited(
                    f"rate limit of {int(self._requests.capacity)} requests per minute reached",
                    "rate_limited",
                    self._requests.wait(level),
                )
            self._requests.set(key_id, level - 1.0, now)

    def check_tokens(self, key_id: str) -> None:
        """Before a generation: 429 while the key's generated-token budget is spent."""
        with self._lock:
            now = self._now()
            level = self._tokens.level(key_id, now)
            if level < 1.0:
                raise _limited(
                    f"rate limit of {int(self._tokens.capacity)} generated tokens per minute "
                    "reached",
                    "token_rate_limited",
                    self._tokens.wait(level),
                )

    def charge_tokens(self, key_id: str, n: int) -> None:
        """After a generation: take its `n` tokens from the budget, into deficit if need be."""
        if n <= 0:
            return
        with self._lock:
            now = self._now()
            self._tokens.set(key_id, self._tokens.level(key_id, now) - n, now)

    def tracked(self) -> int:
        """How many buckets are held (for tests and metrics)."""
        with self._lock:
            return len(self._requests) + len(self._tokens)

    def _now(self) -> float:
        """The clock, sweeping idle buckets once a minute. Called under the lock."""
        now = self._clock()
        if now - self._last_sweep >= _SWEEP_SECONDS:
            self._requests.sweep(now)
            self._tokens.sweep(now)
            self._last_sweep = now
        return now
