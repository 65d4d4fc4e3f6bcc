"""The relevance gate: one cosine measure whatever mode ranked the hits, and no second search."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from indexer.ingest import Ingestor
from rag.answer.relevance import above, relevance
from rag.embedding.base import Vectors
from rag.embedding.fake import HashingEmbedder
from rag.kb import KBConfig
from rag.retrieval import Retriever
from rag.stores.base import Filters, Store
from rag.stores.factory import open_store
from rag.types import Document, Hit, Section

TEXTS = {
    "tides": "The moon pulls the oceans and causes the tides.",
    "copper": "Copper wires carry electricity in a business district.",
    "ledger": "A ledger records every transaction of a business.",
    "orbit": "Satellites orbit the earth above the oceans.",
}
QUERY = "copper wires and the ledger of a business"


class Counting:
    """A store and embedder that count the gate's searches and embeddings."""

    def __init__(self, store: Store, embedder: HashingEmbedder) -> None:
        self.store, self.embedder = store, embedder
        self.searches = 0
        self.embedded: list[str] = []
        self.name, self.dim, self.tokenizer = embedder.name, embedder.dim, embedder.tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.embedded += texts
        return self.embedder.embed(texts)

    def search_dense(self, vector: Vectors, k: int, filters: Filters | None = None) -> list[Hit]:
        self.searches += 1
        return self.store.search_dense(vector, k, filters)

    def cosines(self, vector: Vectors, chunk_ids: Sequence[str]) -> dict[str, float]:
        return self.store.cosines(vector, chunk_ids)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    embedder = HashingEmbedder(dim=256)
    config = KBConfig(name="rel", embedder=embedder.name, dim=256, chunk_tokens=48, chunk_overlap=4)
    store = open_store(config, tmp_path / "rel")
    docs = [Document(k, (Section(v),), title=k.title()) for k, v in TEXTS.items()]
    Ingestor(store, embedder, config).ingest_documents(docs, progress=False)
    yield store
    store.close()


def test_every_mode_scores_a_chunk_by_its_dense_cosine(store: Store) -> None:
    embedder = HashingEmbedder(dim=256)
    exact = {h.chunk.id: h.score for h in Retriever(store, embedder).search(QUERY, "dense", 4)}
    # A candidate list of one: most BM25 and hybrid hits come without a cosine.
    for candidates in (1, 100):
        retriever = Retriever(store, embedder, hybrid_candidates=candidates)
        vector = retriever.embed_query(QUERY)
        for mode in ("dense", "bm25", "hybrid"):
            hits = retriever.search(QUERY, mode, 3, vector=vector)  # type: ignore[arg-type]
            scores = relevance(hits, vector, store, embedder)
            assert len(scores) == len(hits) >= 2  # BM25 finds only texts sharing a word
            for hit, score in zip(hits, scores, strict=True):
                assert score == pytest.approx(exact[hit.chunk.id], abs=1e-5), (mode, candidates)


def test_bm25_hits_are_scored_from_stored_vectors_without_a_search(store: Store) -> None:
    counting = Counting(store, HashingEmbedder(dim=256))
    retriever = Retriever(store, counting.embedder)
    vector = retriever.embed_query(QUERY)
    hits = retriever.search(QUERY, "bm25", 3)
    assert hits and all(h.cosine is None for h in hits)
    scores = relevance(hits, vector, counting, counting)  # type: ignore[arg-type]
    assert (counting.searches, counting.embedded) == (0, [])
    exact = store.cosines(vector, [h.chunk.id for h in hits])
    assert scores == [exact[h.chunk.id] for h in hits]


def test_a_chunk_deleted_since_the_search_is_embedded_again(store: Store) -> None:
    counting = Counting(store, HashingEmbedder(dim=256))
    retriever = Retriever(store, counting.embedder)
    vector = retriever.embed_query(QUERY)
    hits = retriever.search(QUERY, "bm25", 3)
    before = relevance(hits, vector, store, counting.embedder)
    store.delete([hits[0].doc_id])
    after = relevance(hits, vector, counting, counting)  # type: ignore[arg-type]
    assert len(counting.embedded) == 1 and TEXTS[hits[0].doc_id] in counting.embedded[0]
    assert after == pytest.approx(before, abs=1e-5)


def test_no_hits_and_the_threshold(store: Store) -> None:
    retriever = Retriever(store, HashingEmbedder(dim=256))
    assert relevance([], retriever.embed_query("q"), store, retriever.embedder) == []
    hits = retriever.search(QUERY, "dense", 3)
    kept = above(hits, [0.2, 0.5, 0.4], 0.4)
    assert [(h.chunk.id, s) for h, s in kept] == [(hits[1].chunk.id, 0.5), (hits[2].chunk.id, 0.4)]
