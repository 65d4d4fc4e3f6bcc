"""Typed value objects that cross every boundary: loaded records, chunks, hits, KB config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SearchMode = Literal["dense", "bm25", "hybrid"]
IndexKind = Literal["flat", "hnsw", "ivfpq"]
EngineKind = Literal["local", "elasticsearch"]
# How hybrid search fuses its dense and BM25 rankings (rag/retrieval/fusion.py).
FusionKind = Literal["rrf", "minmax", "tmm"]

Metadata = dict[str, Any]


@dataclass(frozen=True)
class Section:
    """One piece of a source document as a loader reads it: a page, a row, a heading's body."""

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A source document: the unit of sync, replace and delete."""

    id: str
    sections: tuple[Section, ...]
    title: str = ""
    source: str = ""
    metadata: Metadata = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of a document, small enough for the embedder to see whole."""

    id: str
    doc_id: str
    text: str
    position: int
    title: str = ""
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a search, with the score of the mode that found it.

    `cosine` is the dense cosine of the query and the chunk when the search knows it: a dense
    search sets it (there it equals `score`), fusion keeps it, BM25 leaves it None.
    """

    chunk: Chunk
    score: float
    cosine: float | None = None

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True)
class StoredDocument:
    """What the store keeps about a document besides its chunks."""

    id: str
    content_hash: str
    title: str = ""
    source: str = ""
    metadata: Metadata = field(default_factory=dict)
    chunk_count: int = 0


@dataclass(frozen=True)
class KBStats:
    documents: int
    chunks: int
