"""The relevance gate: which retrieved chunks are related enough to show the model.

Relevance is one measure for every search mode: the cosine similarity of the query and the
chunk as the KB embeds it (title and text), so one threshold means the same thing whatever
mode found a hit. BM25 and RRF scores cannot serve: BM25 is unbounded and RRF only ranks.
Hits found by dense search (alone or inside hybrid) carry the cosine they were found with.
For the others (found by BM25 only) the store reads their stored vectors and scores them
against the same query vector: no second search and no second query embedding. A chunk
deleted since the search is embedded again instead, as ingestion embedded it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.embedding.base import Embedder, Vectors, embedding_text
from rag.stores.base import Store
from rag.types import Hit


def relevance(
    hits: Sequence[Hit], query_vector: Vectors, store: Store, embedder: Embedder
) -> list[float]:
    """Cosine similarity of the query and each hit's chunk, in the order of `hits`."""
    missing = [hit.chunk for hit in hits if hit.cosine is None]
    cosine = store.cosines(query_vector, [c.id for c in missing]) if missing else {}
    gone = [c for c in missing if c.id not in cosine]
    if gone:
        vectors = embedder.embed([embedding_text(c.title, c.text) for c in gone])
        for chunk, score in zip(gone, vectors @ query_vector, strict=True):  # unit vectors
            cosine[chunk.id] = float(score)
    return [hit.cosine if hit.cosine is not None else cosine[hit.chunk.id] for hit in hits]


def above(
    hits: Sequence[Hit], scores: Sequence[float], threshold: float
) -> list[tuple[Hit, float]]:
    """The hits scoring at least `threshold`, with their scores, in ranking order."""
    return [(hit, score) for hit, score in zip(hits, scores, strict=True) if score >= threshold]
