"""Checks every engine makes on what callers hand a store, before any write or search.

A bad vector caught here is an `InvalidInputError` naming the document; caught by FAISS or a
server it would be a crash or a bulk failure deep inside a batch.
"""

from __future__ import annotations

import numpy as np

from rag.embedding.base import Vectors
from rag.errors import InvalidInputError
from rag.stores.base import DocumentWrite


def write_vectors(w: DocumentWrite, dim: int) -> Vectors:
    """The write's vectors as float32 rows, one per chunk, each finite and non-zero."""
    doc_id = w.document.id
    if not doc_id:
        raise InvalidInputError("document id must not be empty")
    if any(c.doc_id != doc_id for c in w.chunks):
        raise InvalidInputError(f"every chunk of document {doc_id!r} must carry its id")
    vectors = np.asarray(w.vectors, dtype=np.float32)
    if not w.chunks and vectors.size == 0:
        return np.empty((0, dim), dtype=np.float32)
    if vectors.shape != (len(w.chunks), dim):
        raise InvalidInputError(
            f"document {doc_id!r}: {len(w.chunks)} chunks need vectors of shape "
            f"({len(w.chunks)}, {dim}), got {vectors.shape}"
        )
    if not np.isfinite(vectors).all():
        raise InvalidInputError(f"document {doc_id!r}: vectors hold NaN or infinity")
    # Cosine similarity is undefined for a zero vector (Elasticsearch rejects the chunk).
    if (np.linalg.norm(vectors, axis=1) == 0).any():
        raise InvalidInputError(f"document {doc_id!r}: a chunk has an all-zero vector")
    return vectors


def query_vector(vector: Vectors, dim: int) -> Vectors:
    """One query row of `dim` finite numbers, not all zero ((1, dim) is accepted too)."""
    query = np.asarray(vector, dtype=np.float32)
    if query.ndim == 2 and query.shape[0] == 1:
        query = query[0]
    if query.shape != (dim,) or not np.isfinite(query).all():
        raise InvalidInputError(f"query vector must be {dim} finite numbers")
    if not np.linalg.norm(query):
        raise InvalidInputError("query vector is all zeros: cosine similarity is undefined")
    return query


def check_k(k: int, most: int | None = None) -> None:
    """Refuse a k that asks for nothing, or more than the engine can return."""
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    if most is not None and k > most:
        raise InvalidInputError(f"k must be between 1 and {most}, got {k}")
