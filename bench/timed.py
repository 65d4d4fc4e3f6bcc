"""Timing proxies for the ingest pipeline's seams: an Embedder and a Store that keep a stopwatch.

The Ingestor takes its store and embedder by constructor, so wrapping them measures the embed,
write and flush stages of the real pipeline without touching its code. The embedder proxy also
keeps every text it was given, so a baseline can encode exactly the same texts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rag.embedding.base import Embedder, Tokenizer, Vectors
from rag.stores.base import DocumentWrite, Filters, Store
from rag.types import Hit, KBStats, StoredDocument


class TimedEmbedder:
    """An Embedder that adds up the seconds spent in `embed` and records the texts."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.dim: int = inner.dim
        self.tokenizer: Tokenizer = inner.tokenizer
        self.seconds = 0.0
        self.calls: list[list[str]] = []  # the texts of each embed call, in order

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed through the wrapped model, timed."""
        t0 = time.perf_counter()
        out = self.inner.embed(texts)
        self.seconds += time.perf_counter() - t0
        self.calls.append(list(texts))
        return out


class TimedStore:
    """A Store that adds up the seconds spent in `write` and in `flush`."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.write_seconds = 0.0
        self.flush_seconds = 0.0

    def write(self, batch: Sequence[DocumentWrite]) -> None:
        """Write through, timed."""
        t0 = time.perf_counter()
        self.inner.write(batch)
        self.write_seconds += time.perf_counter() - t0

    def flush(self) -> None:
        """Flush through, timed."""
        t0 = time.perf_counter()
        self.inner.flush()
        self.flush_seconds += time.perf_counter() - t0

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Delegated."""
        return self.inner.delete(doc_ids)

    def delete_where(self, filters: Filters) -> int:
        """Delegated."""
        return self.inner.delete_where(filters)

    def documents(self, offset: int = 0, limit: int | None = None) -> list[StoredDocument]:
        """Delegated."""
        return self.inner.documents(offset, limit)

    def get_document(self, doc_id: str) -> StoredDocument | None:
        """Delegated."""
        return self.inner.get_document(doc_id)

    def search_dense(self, vector: Vectors, k: int, filters: Filters | None = None) -> list[Hit]:
        """Delegated."""
        return self.inner.search_dense(vector, k, filters)

    def search_bm25(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """Delegated."""
        return self.inner.search_bm25(query, k, filters)

    def cosines(self, vector: Vectors, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Delegated."""
        return self.inner.cosines(vector, chunk_ids)

    def stats(self) -> KBStats:
        """Delegated."""
        return self.inner.stats()

    def close(self) -> None:
        """Delegated."""
        self.inner.close()
