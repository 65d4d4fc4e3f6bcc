"""Measuring vector indexes the way the service queries them: one query at a time, top 10.

Indexes are the project's own `rag.stores.local.vectors.VectorIndex` (FAISS behind it), built
once per data set and cached under the bench cache; a sweep reloads the saved index with
VectorIndexSettings that differ only in efSearch or nprobe, since those are read at search time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from rag.stores.local.vectors import VectorIndex, ivfpq_train_size
from rag.stores.settings import VectorIndexSettings
from rag.types import IndexKind

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
ADD_BATCH = 10_000
WARMUP = 20


@dataclass(frozen=True)
class Probe:
    """Top-k ids per query and each query's latency in seconds."""

    ids: I64
    seconds: npt.NDArray[np.float64]


def build(kind: IndexKind, base: F32, settings: VectorIndexSettings, seed: int = 0) -> VectorIndex:
    """A Flat, HNSW or IVF-PQ VectorIndex over `base`, ids 0..n-1, added in batches."""
    if kind == "ivfpq":
        rng = np.random.default_rng(seed)
        take = ivfpq_train_size(len(base))
        sample = base[np.sort(rng.choice(len(base), size=take, replace=False))]
        index = VectorIndex.train_ivfpq(sample, len(base), base.shape[1], settings)
    else:
        index = VectorIndex.empty(kind, base.shape[1], settings)
    for start in range(0, len(base), ADD_BATCH):
        part = base[start : start + ADD_BATCH]
        index.add(np.arange(start, start + len(part), dtype=np.int64), part)
    return index


def build_cached(kind: IndexKind, base: F32, path: Path, settings: VectorIndexSettings) -> float:
    """Build and save the index at `path` unless it is there; returns its build seconds."""
    record = path.with_suffix(".json")
    if path.exists() and record.exists():
        return float(json.loads(record.read_text())["build_seconds"])
    t0 = time.perf_counter()
    index = build(kind, base, settings)
    seconds = time.perf_counter() - t0
    index.save(path)
    record.write_text(json.dumps({"build_seconds": seconds, "count": len(base)}))
    return seconds


def probe(search: Callable[[F32, int], I64], queries: F32, k: int, warmup: int = WARMUP) -> Probe:
    """Run `search` once per query (after a few untimed warm-up queries), timing each call."""
    for q in queries[:warmup]:
        search(q, k)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    seconds = np.empty(len(queries), dtype=np.float64)
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        found = search(q, k)
        seconds[i] = time.perf_counter() - t0
        ids[i, : len(found)] = found[:k]
    return Probe(ids, seconds)


def index_search(index: VectorIndex) -> Callable[[F32, int], I64]:
    """The plain search of a VectorIndex, returning ids only."""
    return lambda q, k: index.search(q, k)[1]


def refined_search(index: VectorIndex, base: F32, refine: int) -> Callable[[F32, int], I64]:
    """Fetch `refine * k` approximate candidates, re-rank them exactly (as the store does)."""

    def search(q: F32, k: int) -> I64:
        _, ids = index.search(q, k * refine)
        order = np.argsort(-(base[ids] @ q), kind="stable")[:k]
        return ids[order]

    return search


def recall(found: I64, truth: I64) -> float:
    """Mean over queries of |found ∩ truth| / k (recall@k against exact search)."""
    k = int(truth.shape[1])
    hits = [len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) / k


def load(path: Path, dim: int, settings: VectorIndexSettings) -> VectorIndex:
    """A saved index, searched with `settings` (efSearch, nprobe)."""
    return VectorIndex.load(path, dim, settings)


def set_threads(n: int) -> int:
    """Set FAISS's OpenMP threads; returns the previous number."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    return int(before)
