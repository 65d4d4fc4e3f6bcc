"""The relevance gate: one cosine measure whatever mode ranked the hits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.ingest import Ingestor
from rag.answer.relevance import above, relevance
from rag.embedding.fake import HashingEmbedder
from rag.kb import KBConfig
from rag.retrieval import Retriever
from rag.stores.base import Store
from rag.stores.factory import open_store
from rag.types import Document, Section

TEXTS = {
    "tides": "The moon pulls the oceans and causes the tides.",
    "copper": "Copper wires carry electricity in a business district.",
    "ledger": "A ledger records every transaction of a business.",
    "orbit": "Satellites orbit the earth above the oceans.",
}
QUERY = "copper wires and the ledger of a business"


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
    # A candidate list of one: most BM25 and hybrid hits must be embedded again.
    for candidates in (1, 100):
        retriever = Retriever(store, embedder, hybrid_candidates=candidates)
        for mode in ("dense", "bm25", "hybrid"):
            hits = retriever.search(QUERY, mode, 3)  # type: ignore[arg-type]
            scores = relevance(QUERY, hits, mode, retriever)  # type: ignore[arg-type]
            assert len(scores) == len(hits) >= 2  # BM25 finds only texts sharing a word
            for hit, score in zip(hits, scores, strict=True):
                assert score == pytest.approx(exact[hit.chunk.id], abs=1e-5), (mode, candidates)


def test_a_hit_outside_the_dense_candidates_is_embedded_again(store: Store) -> None:
    retriever = Retriever(store, HashingEmbedder(dim=256), hybrid_candidates=1)
    *_, worst = retriever.search(QUERY, "dense", 4)  # not the dense top-1 the lookup sees
    (score,) = relevance(QUERY, [worst], "bm25", retriever)
    assert score == pytest.approx(worst.score, abs=1e-5)


def test_filters_apply_to_the_lookup(store: Store) -> None:
    retriever = Retriever(store, HashingEmbedder(dim=256), hybrid_candidates=1)
    hits = retriever.search(QUERY, "bm25", 2)
    assert relevance(QUERY, hits, "bm25", retriever, {"no_such_key": "x"}) == pytest.approx(
        relevance(QUERY, hits, "bm25", retriever), abs=1e-5
    )  # nothing passes the filter: every hit is embedded again, same cosine


def test_no_hits_and_the_threshold(store: Store) -> None:
    retriever = Retriever(store, HashingEmbedder(dim=256))
    assert relevance("q", [], "hybrid", retriever) == []
    hits = retriever.search(QUERY, "dense", 3)
    kept = above(hits, [0.2, 0.5, 0.4], 0.4)
    assert [(h.chunk.id, s) for h, s in kept] == [(hits[1].chunk.id, 0.5), (hits[2].chunk.id, 0.4)]
