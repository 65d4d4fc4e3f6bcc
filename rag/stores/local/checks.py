"""Input checks of the embedded engine: what a write or a search must look like."""

from __future__ import annotations

import numpy as np

from rag.embedding.base import Vectors
from rag.errors import InvalidInputError
from rag.stores.base import DocumentWrite


def write_vectors(w: DocumentWrite, dim: int) -> Vectors:
    """The vectors of a document write as a (chunks, dim) float32 matrix, or InvalidInputError."""
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
    return vectors


def query_vector(vector: Vectors, dim: int) -> Vectors:
    """A query as one float32 row of `dim` finite numbers (a (1, dim) matrix is accepted)."""
    query = np.asarray(vector, dtype=np.float32)
    if query.ndim == 2 and query.shape[0] == 1:
        query = query[0]
    if query.shape != (dim,) or not np.isfinite(query).all():
        raise InvalidInputError(f"query vector must be {dim} finite numbers")
    return query


def check_k(k: int) -> None:
    """Refuse a result count below 1."""
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
