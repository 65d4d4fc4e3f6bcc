"""The storage engine contract every KB engine (local, Elasticsearch) implements.

A store holds documents, their chunks and vectors, and answers keyword and vector searches.
It is told what to write; deciding what changed (content hashes, sync) is the indexer's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.embedding.base import Vectors
from rag.types import Chunk, Hit, KBStats, StoredDocument

# Equality on metadata keys, ANDed. Values compare as JSON scalars.
Filters = Mapping[str, str | int | float | bool]
# A filter on a key also matches these other keys (any one suffices). `path` is where a file
# lies under the folder it was ingested from (`reports/3M_2018_10K.pdf`); users name the file
# (`path=3M_2018_10K.pdf`), which the loaders store as `filename`.
FILTER_ALIASES: Mapping[str, tuple[str, ...]] = {"path": ("path", "filename")}


@dataclass(frozen=True)
class DocumentWrite:
    """One document to (re)place whole: the old chunks of the same id are removed."""

    document: StoredDocument
    chunks: Sequence[Chunk]
    vectors: Vectors  # one row per chunk, same order


class Store(Protocol):
    """Engine seam. Writes are all-or-nothing per call; searches never see deleted documents."""

    def write(self, batch: Sequence[DocumentWrite]) -> None:
        """Insert or replace each document with its chunks and vectors."""
        ...

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents by id; returns how many existed."""
        ...

    def delete_where(self, filters: Filters) -> int:
        """Remove every document whose metadata matches; returns how many."""
        ...

    def documents(self, offset: int = 0, limit: int | None = None) -> list[StoredDocument]:
        """Stored documents ordered by id (ids, hashes and sources drive sync)."""
        ...

    def get_document(self, doc_id: str) -> StoredDocument | None:
        """One stored document, or None."""
        ...

    def search_dense(self, vector: Vectors, k: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest chunks by cosine similarity (vectors are normalised), best first."""
        ...

    def search_bm25(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """Best chunks by BM25 over title and text, best first."""
        ...

    def cosines(self, vector: Vectors, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Cosine of `vector` and each named chunk, as `search_dense` scores it; by chunk id.

        Chunks that are not stored are left out. No search: the stored vectors are read.
        """
        ...

    def stats(self) -> KBStats:
        """Document and chunk counts."""
        ...

    def flush(self) -> None:
        """Make every completed write durable (local: save the vector index)."""
        ...

    def close(self) -> None:
        """Release files and connections; flushes first."""
        ...
