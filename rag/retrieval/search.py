"""The retriever: turns a query into hits with one of three modes."""

from __future__ import annotations

from rag.embedding.base import Embedder, Vectors
from rag.errors import InvalidInputError
from rag.retrieval.fusion import Fusion, fuse
from rag.stores.base import Filters, Store
from rag.types import FusionKind, Hit, SearchMode

MAX_K = 1000


class Retriever:
    """Dense, BM25 or hybrid search over one store; filters apply inside every mode."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        hybrid_candidates: int = 100,
        rrf_k: int = 60,
        fusion: Fusion = Fusion(),
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.hybrid_candidates = hybrid_candidates
        self.rrf_k = rrf_k
        self.fusion = fusion  # the KB's; a request may ask for another

    def search(
        self,
        query: str,
        mode: SearchMode = "hybrid",
        k: int = 10,
        filters: Filters | None = None,
        *,
        vector: Vectors | None = None,
        fusion: Fusion | None = None,
    ) -> list[Hit]:
        """Top-k chunks for `query`, best first; dense hits carry their cosine.

        `vector` is the query's embedding when the caller has it already (the answer path
        needs it for relevance too); otherwise dense and hybrid search embed the query.
        `fusion` overrides the KB's way of fusing hybrid search's two rankings.
        """
        _check_query(query)
        if not 1 <= k <= MAX_K:
            raise InvalidInputError(f"k must be between 1 and {MAX_K}, got {k}")
        if mode == "bm25":
            return self.store.search_bm25(query, k, filters)
        if mode == "dense":
            return self._dense(query, vector, k, filters)
        if mode == "hybrid":
            dense, bm25 = self.candidates(query, k, filters, vector=vector)
            return fuse(dense, bm25, fusion or self.fusion, self.rrf_k)[:k]
        raise InvalidInputError(f"unknown search mode {mode!r}: use dense, bm25 or hybrid")

    def fusion_for(self, kind: FusionKind | None, weight: float | None) -> Fusion:
        """A request's fusion: what it names, the KB's for what it leaves out."""
        try:
            return Fusion(
                kind or self.fusion.kind, self.fusion.weight if weight is None else weight
            )
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc

    def candidates(
        self, query: str, k: int, filters: Filters | None = None, *, vector: Vectors | None = None
    ) -> tuple[list[Hit], list[Hit]]:
        """The dense and the BM25 rankings hybrid search fuses for a top-`k` search.

        Public so an evaluation can fetch them once and fuse them every way offline.
        """
        _check_query(query)
        n = max(k, self.hybrid_candidates)
        return self._dense(query, vector, n, filters), self.store.search_bm25(query, n, filters)

    def embed_query(self, query: str) -> Vectors:
        """The query's embedding: one unit vector."""
        _check_query(query)
        vectors: Vectors = self.embedder.embed([query])[0]
        return vectors

    def _dense(
        self, query: str, vector: Vectors | None, k: int, filters: Filters | None
    ) -> list[Hit]:
        if vector is None:
            vector = self.embed_query(query)
        return self.store.search_dense(vector, k, filters)


def _check_query(query: str) -> None:
    if not query.strip():
        raise InvalidInputError("query is empty")
