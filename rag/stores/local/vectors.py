"""The FAISS side of the embedded engine: an id-keyed vector index that can be saved atomically.

Ids are SQLite chunk ids; every index scores by inner product (vectors are normalised, so it
is cosine). Flat (`IndexFlatIP`, exact) and HNSW (`IndexHNSWFlat`) sit in an `IndexIDMap2`.
`IndexIVFPQ` stores ids itself and is used bare: an id map over IVF breaks on removal, because
IVF keeps its internal numbers where the map assumes they were compacted like Flat's.
HNSW cannot remove vectors: removed ids become tombstones, excluded from every search by an
`IDSelector` until the owner rebuilds the index. Where a GPU is usable (`rag.stores.local.gpu`),
unfiltered searches of Flat and IVF-PQ indexes run on a GPU replica of the index.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from rag.embedding.base import Vectors
from rag.errors import StoreError
from rag.files import replace_durably
from rag.stores.local.gpu import GpuReplica, use_gpu
from rag.stores.settings import VectorIndexSettings
from rag.types import IndexKind

Ids = npt.NDArray[np.int64]

HNSW_EF_CONSTRUCTION = 200
PQ_BITS = 8

_INNER: dict[IndexKind, type[faiss.Index]] = {
    "flat": faiss.IndexFlatIP,
    "hnsw": faiss.IndexHNSWFlat,
    "ivfpq": faiss.IndexIVFPQ,
}


def kind_for(requested: IndexKind, count: int, settings: VectorIndexSettings) -> IndexKind:
    """The index kind to build for `count` vectors: IVF-PQ only once there is enough to train."""
    if requested == "ivfpq" and count < settings.ivfpq_min_chunks:
        return "flat"
    return requested


def ivfpq_shape(count: int, dim: int) -> tuple[int, int]:
    """(inverted lists, sub-quantisers) for an IVF-PQ over `count` vectors of `dim` dims."""
    # dim/8 sub-quantisers of 8 bits each; PQ needs a divisor of dim, so take the nearest below.
    m = max(1, dim // 8)
    while dim % m:
        m -= 1
    return _nlist(count), m


def ivfpq_train_size(count: int) -> int:
    """How many of `count` vectors to train an IVF-PQ on: ~40 per list, capped for memory."""
    return min(count, max(40 * _nlist(count), 10_000), 200_000)


def _nlist(count: int) -> int:
    return max(1, round(4 * math.sqrt(count)))


class VectorIndex:
    """A FAISS index keyed by chunk id, with tombstones where the index cannot remove."""

    def __init__(self, index: Any, settings: VectorIndexSettings) -> None:
        self._index = index
        self._settings = settings
        inner = index if isinstance(index, faiss.IndexIVFPQ) else faiss.downcast_index(index.index)
        self.kind: IndexKind = next(k for k, cls in _INNER.items() if isinstance(inner, cls))
        self.dim = int(index.d)
        self._dead: Ids = np.empty(0, dtype=np.int64)
        self._not_dead: Any = None  # cached selector, rebuilt when tombstones change
        self._on_gpu = self.kind != "hnsw" and use_gpu(settings.device)
        self._replica: GpuReplica | None = None  # dropped on every change, copied on demand
        self._replica_lock = threading.Lock()

    @classmethod
    def empty(cls, kind: IndexKind, dim: int, settings: VectorIndexSettings) -> VectorIndex:
        """A new empty Flat or HNSW index (IVF-PQ must be trained: see `train_ivfpq`)."""
        inner: faiss.Index
        if kind == "hnsw":
            hnsw = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner = hnsw
        elif kind == "flat":
            inner = faiss.IndexFlatIP(dim)
        else:
            raise ValueError("an IVF-PQ index must be trained: use VectorIndex.train_ivfpq")
        return cls(faiss.IndexIDMap2(inner), settings)

    @classmethod
    def train_ivfpq(
        cls, sample: Vectors, count: int, dim: int, settings: VectorIndexSettings
    ) -> VectorIndex:
        """An empty IVF-PQ index shaped for `count` vectors, trained on `sample`."""
        nlist, m = ivfpq_shape(count, dim)
        nlist = min(nlist, len(sample))  # k-means cannot make more centroids than points
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, PQ_BITS, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(index, settings)

    @classmethod
    def load(cls, path: Path, dim: int, settings: VectorIndexSettings) -> VectorIndex:
        """Read a saved index; StoreError if it is unreadable or not one this engine writes."""
        try:
            index = faiss.read_index(str(path))
        except (RuntimeError, MemoryError) as exc:
            raise StoreError(f"cannot read vector index {path}: {exc}") from exc
        if isinstance(index, faiss.IndexIDMap2):
            inner = faiss.downcast_index(index.index)
            if not isinstance(inner, faiss.IndexFlatIP | faiss.IndexHNSWFlat):
                raise StoreError(f"{path} maps ids over an unexpected {type(inner).__name__}")
            if index.id_map.size() != index.ntotal:
                raise StoreError(f"{path} has a damaged id map")
        elif not isinstance(index, faiss.IndexIVFPQ):
            raise StoreError(f"{path} holds an unexpected {type(index).__name__}")
        if index.d != dim or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise StoreError(f"{path} holds vectors of dim {index.d}, metric {index.metric_type}")
        return cls(index, settings)

    @property
    def size(self) -> int:
        """Live vectors (tombstones excluded)."""
        return int(self._index.ntotal) - len(self._dead)

    @property
    def tombstones(self) -> int:
        """Removed vectors still inside the index (HNSW only)."""
        return len(self._dead)

    def ids(self) -> Ids:
        """The live ids (tombstones excluded), sorted."""
        held = np.sort(self._held())
        return np.setdiff1d(held, self._dead, assume_unique=True) if len(self._dead) else held

    def max_id(self) -> int:
        """The highest id in the index, tombstones included; 0 if empty."""
        held = self._held()
        return int(held.max()) if len(held) else 0

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors under chunk ids that are not in the index yet."""
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
            self._replica = None

    def remove(self, ids: Ids) -> None:
        """Remove ids; on HNSW they become tombstones that searches skip."""
        if not len(ids):
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "hnsw":
            # Only ids the index holds: a tombstone for an absent id would skew `size`.
            self._dead = np.union1d(self._dead, ids[np.isin(ids, self._held())])
            self._not_dead = None
        else:
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._replica = None

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> tuple[Vectors, Ids]:
        """Up to k (scores, ids) best first; only `allowed` ids when given."""
        if k < 1 or self.size == 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        if self._on_gpu and allowed is None:
            row = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
            return self._gpu().search(row, min(k, self.size))
        # `sel` must outlive the search: the parameters hold a raw pointer to it.
        sel = faiss.IDSelectorBatch(allowed) if allowed is not None else self._live_selector()
        params = self._params(sel, k)
        with _one_openmp_thread():
            scores, ids = self._index.search(
                np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim),
                min(k, self.size),
                params=params,
            )
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep].astype(np.int64, copy=False)

    def save(self, path: Path) -> None:
        """Write to `path` atomically: a temp file, fsync, rename, fsync of the folder."""
        tmp = path.with_name(path.name + ".tmp")
        try:
            faiss.write_index(self._index, str(tmp))
            replace_durably(tmp, path)
        except BaseException:
            # A full disk must not leave a partial file beside the index until the next open.
            tmp.unlink(missing_ok=True)
            raise

    def _gpu(self) -> GpuReplica:
        """The GPU replica, copied from the CPU index if it changed since the last copy."""
        # Searches run concurrently (the store's shared lock): one of them makes the copy.
        with self._replica_lock:
            if self._replica is None:
                self._replica = GpuReplica(self._index, self.kind, self._settings.ivf_nprobe)
            return self._replica

    def _held(self) -> Ids:
        """Every id inside the index, unordered."""
        if self.kind != "ivfpq":
            return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)
        lists = self._index.invlists
        parts = [np.empty(0, dtype=np.int64)]
        for number in range(self._index.nlist):
            if size := lists.list_size(number):
                pointer = lists.get_ids(number)
                parts.append(faiss.rev_swig_ptr(pointer, size).astype(np.int64))  # a copy
                lists.release_ids(number, pointer)
        return np.concatenate(parts)

    def _live_selector(self) -> Any:
        if not len(self._dead):
            return None
        if self._not_dead is None:
            dead = faiss.IDSelectorBatch(self._dead)
            self._not_dead = (faiss.IDSelectorNot(dead), dead)  # keep `dead` alive with it
        return self._not_dead[0]

    def _params(self, sel: Any, k: int) -> Any:
        # Attributes, not keyword arguments: faiss' bundled stubs do not type the keyword form
        # and lack SearchParametersHNSW altogether.
        params: Any
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = max(self._settings.hnsw_ef_search, k)
        elif self.kind == "ivfpq":
            params = faiss.SearchParametersIVF()
            params.nprobe = self._settings.ivf_nprobe
        elif sel is None:
            return None
        else:
            params = faiss.SearchParameters()
        params.sel = sel
        return params


@contextmanager
def _one_openmp_thread() -> Iterator[None]:
    """Run this thread's FAISS calls in the block without OpenMP helpers.

    FAISS splits a search across queries, and a search here is one query: the helpers only wait
    at the region's barrier. Each calling thread also gets a team of its own, so 32 concurrent
    searches put 64 threads on 2 cores. With an ingest embedding beside them, one thread's hybrid
    store searches went from 143 to 326 per second (bench/store_reads.py, docs/benchmarks.md).
    libgomp keeps this setting per thread, so other threads (index builds) keep theirs.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
