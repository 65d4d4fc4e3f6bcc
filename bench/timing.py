"""Latency summaries: percentiles over per-call timings in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """p50, p95 and mean of a set of timings, in milliseconds."""

    p50: float
    p95: float
    mean: float
    n: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Summarise timings given in seconds."""
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        if not len(ms):
            raise ValueError("no timings to summarise")
        p50, p95 = np.percentile(ms, [50, 95])
        return cls(float(p50), float(p95), float(ms.mean()), len(ms))
