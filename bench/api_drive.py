"""Closed-loop HTTP load: C concurrent clients send a fixed number of requests, timed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

NO_RESPONSE = 0  # the status recorded when a request got no HTTP response at all


@dataclass
class Level:
    """What a number of requests measured: wall time, per-request latencies and statuses."""

    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    samples: list[str] = field(default_factory=list)  # the first failures, for the report

    @classmethod
    def merge(cls, parts: list[Level]) -> Level:
        """Rounds of one level as one: times add up, latencies and statuses pool."""
        statuses: Counter[int] = Counter()
        for p in parts:
            statuses.update(p.statuses)
        return cls(
            sum(p.seconds for p in parts),
            [x for p in parts for x in p.latencies],
            statuses,
            [s for p in parts for s in p.samples][:5],
        )

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentiles(self, scale: float) -> list[float]:
        """p50, p95 and p99 of the latencies, in seconds times `scale`."""
        return [float(x) * scale for x in np.percentile(self.latencies, [50, 95, 99])]

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)

    @property
    def other_failures(self) -> int:
        """Non-2xx answers under 500, and requests that got no response."""
        return sum(n for s, n in self.statuses.items() if s < 200 or 300 <= s < 500)


async def drive(
    send: Callable[[int], Awaitable[httpx.Response]],
    requests: int,
    clients: int,
    on_ok: Callable[[httpx.Response], None] | None = None,
) -> Level:
    """`clients` workers send requests 0..requests-1; each sends its next when one returns."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    samples: list[str] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < requests:
            i, next_index = next_index, next_index + 1  # no await between: atomic on the loop
            t0 = time.perf_counter()
            try:
                response = await send(i)
            except httpx.HTTPError as exc:
                latencies.append(time.perf_counter() - t0)
                statuses[NO_RESPONSE] += 1
                samples.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[response.status_code] += 1
            if response.is_success:
                if on_ok is not None:
                    on_ok(response)
            elif len(samples) < 5:
                samples.append(f"HTTP {response.status_code}: {response.text[:500]}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(clients, requests))))
    return Level(time.perf_counter() - t0, latencies, statuses, samples)
