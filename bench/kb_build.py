"""Real local KBs built from the cached fine-corpus embeddings, without embedding again.

Pieces are grouped into their source documents and written through the store's `write()` as
`DocumentWrite`s with the precomputed vectors, in batches of the ingest batch size, then
flushed: the same calls the Ingestor makes, minus the embedder. A built KB is reused when its
chunk count matches, so the expensive HNSW build happens once per cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from bench.embed_cache import F32
from bench.fine_corpus import Piece
from rag.config import Settings
from rag.stores.base import DocumentWrite
from rag.types import Chunk, IndexKind, StoredDocument
from rag.workspace import OpenKB, Workspace


@dataclass(frozen=True)
class BuiltKB:
    """An opened KB and how it came to be: chunk count and build seconds (None if reused)."""

    kb: OpenKB
    chunks: int
    build_seconds: float | None


def whole_documents(pieces: list[Piece], at_least: int) -> int:
    """How many leading pieces cover whole documents and number at least `at_least`."""
    count = 0
    for _, group in groupby(pieces, key=lambda p: p.doc_id):
        if count >= at_least:
            break
        count += sum(1 for _ in group)
    return count


def _writes(pieces: list[Piece], vectors: F32) -> Iterator[DocumentWrite]:
    start = 0
    for doc_id, group in groupby(pieces, key=lambda p: p.doc_id):
        members = list(group)
        digest = hashlib.blake2b("".join(p.id for p in members).encode(), digest_size=16)
        meta = {"corpus": members[0].corpus}
        chunks = [
            Chunk(id=p.id, doc_id=doc_id, text=p.text, position=i, title=p.title, metadata=meta)
            for i, p in enumerate(members)
        ]
        document = StoredDocument(
            id=doc_id,
            content_hash=digest.hexdigest(),
            title=members[0].title,
            source=members[0].corpus,
            metadata=meta,
            chunk_count=len(chunks),
        )
        yield DocumentWrite(document, chunks, vectors[start : start + len(chunks)])
        start += len(chunks)


def open_or_build(
    ws: Workspace, name: str, index: IndexKind, pieces: list[Piece], vectors: F32
) -> BuiltKB:
    """Open KB `name` if it holds exactly these pieces, else (re)build it from them."""
    if any(c.name == name for c in ws.list()):
        kb = ws.open(name)
        if kb.store.stats().chunks == len(pieces) and kb.config.index == index:
            return BuiltKB(kb, len(pieces), None)
        kb.close()
        ws.drop(name)
    ws.create(name, index=index)
    kb = ws.open(name)
    t0 = time.perf_counter()
    write_all(kb, pieces, vectors, ws.settings)
    return BuiltKB(kb, len(pieces), time.perf_counter() - t0)


def write_all(kb: OpenKB, pieces: list[Piece], vectors: F32, settings: Settings) -> None:
    """Write every piece, batched by whole documents like the Ingestor, then flush."""
    batch: list[DocumentWrite] = []
    size = 0
    for write in _writes(pieces, vectors):
        batch.append(write)
        size += len(write.chunks)
        if size >= settings.ingest_batch_chunks:
            kb.store.write(batch)
            batch, size = [], 0
    if batch:
        kb.store.write(batch)
    kb.store.flush()
