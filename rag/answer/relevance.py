"""The relevance gate: which retrieved chunks are related enough to show the model.

Relevance is one measure for every search mode: the cosine similarity of the query and the
chunk as the KB embeds it (title and text), so one threshold means the same thing whatever
mode found a hit. BM25 and RRF scores cannot serve: BM25 is unbounded and RRF only ranks.
Dense hits carry the cosine as their score. For BM25 and hybrid hits it is looked up in a
dense search of the same query (as wide as hybrid's candidate list: tens of milliseconds);
only hits outside it are embedded again, which costs far more per chunk on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.embedding.base import embedding_text
from rag.retrieval import Retriever
from rag.stores.base import Filters
from rag.types import Hit, SearchMode


def relevance(
    query: str,
    hits: Sequence[Hit],
    mode: SearchMode,
    retriever: Retriever,
    filters: Filters | None = None,
) -> list[float]:
    """Cosine similarity of `query` and each hit's chunk, in the order of `hits`."""
    if not hits or mode == "dense":
        return [hit.score for hit in hits]
    wide = max(len(hits), retriever.hybrid_candidates)
    cosine = {h.chunk.id: h.score for h in retriever.search(query, "dense", wide, filters)}
    missing = [h for h in hits if h.chunk.id not in cosine]
    if missing:
        texts = [embedding_text(h.chunk.title, h.chunk.text) for h in missing]
        vectors = retriever.embedder.embed([query, *texts])  # unit vectors: dot = cosine
        for hit, score in zip(missing, vectors[1:] @ vectors[0], strict=True):
            cosine[hit.chunk.id] = float(score)
    return [cosine[h.chunk.id] for h in hits]


def above(
    hits: Sequence[Hit], scores: Sequence[float], threshold: float
) -> list[tuple[Hit, float]]:
    """The hits scoring at least `threshold`, with their scores, in ranking order."""
    return [(hit, score) for hit, score in zip(hits, scores, strict=True) if score >= threshold]
