"""What the storage engines are configured with: small frozen values, built from `Settings`.

The engines never read the service's `Settings` (rag/config.py); `rag.composition` builds
these from it, and tests and benchmarks build them directly. The defaults are the service's
defaults (tests/unit/test_composition.py holds the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class VectorIndexSettings:
    """How the local engine builds, searches and guards its FAISS index."""

    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    ivf_nprobe: int = 16
    # IVF-PQ needs training data: below this many chunks the KB stays exact (Flat).
    ivfpq_min_chunks: int = 20_000
    # Flat and IVF indexes are searched on a GPU through faiss-gpu when this allows it.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # How long a write waits for another process's write to the same KB before failing.
    write_lock_timeout: float = 120.0


@dataclass(frozen=True)
class ElasticsearchSettings:
    """Where the Elasticsearch engine connects, and how it names and searches its indices."""

    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    verify_certs: bool = True
    ca_certs: Path | None = None
    index_prefix: str = "rag-"
    num_candidates_factor: int = 10
    request_timeout: float = 30.0


@dataclass(frozen=True)
class StoreSettings:
    """Everything the store factory needs to open a KB of either engine."""

    vectors: VectorIndexSettings = field(default_factory=VectorIndexSettings)
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)
