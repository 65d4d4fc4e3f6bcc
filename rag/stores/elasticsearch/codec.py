"""Our value objects to and from Elasticsearch entries: `_id`s, `_source` bodies, hits.

`_id`s are deterministic (document id, and the chunk's place in its document), so a bulk
request retried after a 429 or a lost response overwrites instead of duplicating.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from rag.embedding.base import Vectors
from rag.types import Chunk, StoredDocument

DOC = "doc"
CHUNK = "chunk"
# Elasticsearch caps `_id` at 512 bytes; longer document ids are hashed into the key.
_MAX_KEY_BYTES = 400


def _key(doc_id: str) -> str:
    if len(doc_id.encode()) <= _MAX_KEY_BYTES:
        return doc_id
    return "sha256:" + hashlib.sha256(doc_id.encode()).hexdigest()


def record_id(doc_id: str) -> str:
    """`_id` of a document's record."""
    return "doc:" + _key(doc_id)


def chunk_id(doc_id: str, index: int) -> str:
    """`_id` of the `index`-th chunk of a document (the suffix after the last '#')."""
    return f"chunk:{_key(doc_id)}#{index}"


def record_source(doc: StoredDocument, chunk_count: int, *, complete: bool) -> dict[str, Any]:
    """The record of a document; an incomplete one has an empty hash so sync rewrites it."""
    return {
        "kind": DOC,
        "doc_id": doc.id,
        "metadata": doc.metadata,
        "document": {
            "content_hash": doc.content_hash if complete else "",
            "title": doc.title,
            "source": doc.source,
            "chunk_count": chunk_count if complete else 0,
        },
    }


def chunk_source(chunk: Chunk, vector: Vectors, write_token: str) -> dict[str, Any]:
    """A searchable chunk entry, stamped with the write that produced it."""
    return {
        "kind": CHUNK,
        "doc_id": chunk.doc_id,
        "chunk_id": chunk.id,
        "write_token": write_token,
        "position": chunk.position,
        "page": chunk.page,
        "heading_path": list(chunk.heading_path),
        "title": chunk.title,
        "text": chunk.text,
        "metadata": chunk.metadata,
        "vector": vector.tolist(),
    }


def stored_document(source: Mapping[str, Any]) -> StoredDocument:
    """A document record's `_source` back to a `StoredDocument`."""
    record = source["document"]
    return StoredDocument(
        id=source["doc_id"],
        content_hash=record["content_hash"],
        title=record["title"],
        source=record["source"],
        metadata=source.get("metadata") or {},
        chunk_count=record["chunk_count"],
    )


def chunk(source: Mapping[str, Any]) -> Chunk:
    """A chunk entry's `_source` back to a `Chunk`."""
    return Chunk(
        id=source["chunk_id"],
        doc_id=source["doc_id"],
        text=source["text"],
        position=source["position"],
        title=source.get("title") or "",
        page=source.get("page"),
        heading_path=tuple(source.get("heading_path") or ()),
        metadata=source.get("metadata") or {},
    )
