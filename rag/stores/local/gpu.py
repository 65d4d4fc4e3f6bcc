"""FAISS on a CUDA GPU: a read replica of a Flat or IVF-PQ index, for unfiltered searches.

The CPU index stays the one that is changed, saved and repaired; the replica is copied from it
when a search finds it older than the last change. faiss-gpu has no HNSW and its indexes take
no `IDSelector`, so HNSW KBs and filtered searches stay on the CPU. Flat goes into a
`GpuIndexFlatIP` with the ids kept beside it (exact search, the same results as the CPU);
IVF-PQ is cloned whole by `index_cpu_to_gpu`, which keeps its ids, with `nprobe` carried over.
GPU indexes are not safe to call from two threads at once: one lock serialises their calls.
"""

from __future__ import annotations

import threading
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from rag.errors import ConfigError

Ids = npt.NDArray[np.int64]


def gpu_count() -> int:
    """CUDA GPUs FAISS can use here (0 with the faiss-cpu wheel)."""
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


def use_gpu(device: str) -> bool:
    """Whether to search on a GPU for RAG_DEVICE=`device`; ConfigError if cuda is unusable."""
    if device == "cpu":
        return False
    available = gpu_count() > 0
    if device == "cuda" and not available:
        raise ConfigError(
            "RAG_DEVICE=cuda but FAISS sees no CUDA GPU (install the gpu extra, faiss-gpu-cu12, "
            "on a machine with one); use RAG_DEVICE=auto or cpu"
        )
    return available


_resources: Any = None
_resources_lock = threading.Lock()


def _shared_resources() -> Any:
    """One StandardGpuResources per process: each holds GPU scratch memory."""
    global _resources
    with _resources_lock:
        if _resources is None:
            _resources = faiss.StandardGpuResources()
        return _resources


class GpuReplica:
    """A GPU copy of a CPU index, searched without filters."""

    def __init__(self, cpu_index: Any, kind: str, nprobe: int) -> None:
        self._lock = threading.Lock()
        res = _shared_resources()
        self._index: Any
        if kind == "flat":
            inner: Any = faiss.downcast_index(cpu_index.index)
            n, dim = int(inner.ntotal), int(inner.d)
            self._index = faiss.GpuIndexFlatIP(res, dim)
            if n:
                # Positions in the GPU index are positions in the CPU one: ids map through id_map.
                self._index.add(np.ascontiguousarray(inner.reconstruct_n(0, n), dtype=np.float32))
            self._ids: Ids | None = faiss.vector_to_array(cpu_index.id_map).astype(np.int64)
        elif kind == "ivfpq":
            options = faiss.GpuClonerOptions()
            # 48 sub-quantisers of 8 bits need float16 lookup tables to fit shared memory.
            options.useFloat16 = True
            self._index = faiss.index_cpu_to_gpu(res, 0, cpu_index, options)
            faiss.GpuParameterSpace().set_index_parameter(self._index, "nprobe", nprobe)
            self._ids = None  # IVF stores the ids itself
        else:
            raise ValueError(f"no GPU replica for {kind} indexes")

    def search(self, query: npt.NDArray[np.float32], k: int) -> tuple[Any, Ids]:
        """Up to k (scores, ids) for one query row, best first."""
        with self._lock:
            scores, found = self._index.search(query, k)
        keep = found[0] >= 0
        positions = found[0][keep].astype(np.int64, copy=False)
        ids = positions if self._ids is None else self._ids[positions]
        return scores[0][keep], ids
