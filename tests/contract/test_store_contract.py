"""The Store contract: every engine in conftest.ENGINES must pass all of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from indexer.ingest import Ingestor
from rag.embedding.base import Vectors
from rag.embedding.fake import HashingEmbedder
from rag.errors import InvalidInputError
from rag.retrieval import FUSION_KINDS, Fusion, Retriever
from rag.stores.base import DocumentWrite, Filters, Store
from rag.types import Document, FusionKind, Hit, Section

Embed = Callable[[str], Vectors]
Reopen = Callable[[Store], Store]

QUERIES = [
    "chlorophyll sunlight photosynthesis",
    "bond yields interest rates",
    "offer acceptance consideration contract",
    "antibodies vaccines immune system",
    "magma eruptions volcanoes",
    "Roman aqueducts water arches",
]


def doc_ids(hits: list[Hit]) -> set[str]:
    return {h.doc_id for h in hits}


def every_mode(store: Store, retriever: Retriever, embed: Embed, query: str) -> list[Hit]:
    """Hits of the query in dense, BM25 and hybrid search, k large enough to see everything."""
    return (
        store.search_dense(embed(query), 100)
        + store.search_bm25(query, 100)
        + retriever.search(query, "hybrid", 100)
    )


def test_write_and_read_back(filled: Store, corpus: list[DocumentWrite]) -> None:
    stats = filled.stats()
    assert (stats.documents, stats.chunks) == (6, sum(len(w.chunks) for w in corpus))
    for w in corpus:
        assert filled.get_document(w.document.id) == w.document
    assert filled.get_document("no-such-doc") is None
    assert [d.id for d in filled.documents()] == sorted(w.document.id for w in corpus)
    stored = {h.chunk.id: h.chunk for h in filled.search_bm25(" ".join(QUERIES), 100)}
    written = {c.id: c for w in corpus for c in w.chunks}
    assert stored == written  # every field of every chunk survives, page and headings included


def test_replace_removes_old_chunks_in_every_mode(
    filled: Store,
    retriever: Retriever,
    embed: Embed,
    writes: Callable[..., DocumentWrite],
    corpus: list[DocumentWrite],
) -> None:
    old = next(w for w in corpus if w.document.id == "volcanoes")
    new = writes(
        "volcanoes",
        "Volcanoes",
        {"domain": "science", "year": 2024},
        ["Glaciers carve valleys as ice sheets advance and retreat."],
        version="2",
    )
    filled.write([new])

    assert filled.get_document("volcanoes") == new.document
    assert filled.stats().chunks == 12 - 1
    for chunk in old.chunks:
        hits = every_mode(filled, retriever, embed, chunk.text)
        assert chunk.text not in {h.chunk.text for h in hits}
    hits = every_mode(filled, retriever, embed, "magma pyroclastic eruptions")
    assert all(h.chunk == new.chunks[0] for h in hits if h.doc_id == "volcanoes")
    assert filled.search_dense(embed(new.chunks[0].text), 1)[0].chunk == new.chunks[0]


def test_replace_twice_in_one_batch_keeps_the_last(
    store: Store, writes: Callable[..., DocumentWrite], embed: Embed
) -> None:
    first = writes("doc", "T", {}, ["alpha beta gamma", "delta epsilon"])
    second = writes("doc", "T", {}, ["zeta eta theta"], version="2")
    store.write([first, second])
    assert store.stats().chunks == 1
    assert [h.chunk for h in store.search_dense(embed("alpha beta gamma"), 10)] == second.chunks
    assert store.search_bm25("alpha delta", 10) == []


def test_delete_by_id_is_never_returned_again(
    reopen: Reopen, filled: Store, retriever: Retriever, embed: Embed
) -> None:
    assert filled.delete(["vaccines", "no-such-doc"]) == 1
    assert filled.delete(["vaccines"]) == 0
    assert filled.get_document("vaccines") is None
    assert filled.stats().documents == 5
    query = "antibodies messenger RNA vaccines clinical trials"
    assert "vaccines" not in doc_ids(every_mode(filled, retriever, embed, query))

    reopened = reopen(filled)
    assert reopened.get_document("vaccines") is None
    assert "vaccines" not in doc_ids(
        reopened.search_dense(embed(query), 100) + reopened.search_bm25(query, 100)
    )


def test_delete_where_removes_matching_documents(
    filled: Store, retriever: Retriever, embed: Embed
) -> None:
    assert filled.delete_where({"domain": "science"}) == 2
    assert filled.delete_where({"domain": "science"}) == 0
    assert filled.delete_where({"domain": "astrology"}) == 0
    assert filled.stats().documents == 4
    for query in ("chlorophyll photosynthesis", "magma volcanoes"):
        assert doc_ids(every_mode(filled, retriever, embed, query)).isdisjoint(
            {"photosynthesis", "volcanoes"}
        )
    with pytest.raises(InvalidInputError):
        filled.delete_where({})


def test_filters_apply_inside_candidate_generation(filled: Store, embed: Embed) -> None:
    # The best match overall is legal; a filter on medical must still yield k medical hits.
    legal = "offer acceptance consideration contract breach damages"
    medical = {"domain": "medical"}
    assert filled.search_bm25(legal, 1)[0].doc_id == "contract-law"
    assert filled.search_dense(embed(legal), 1)[0].doc_id == "contract-law"
    assert doc_ids(filled.search_bm25(legal + " vaccines", 1, medical)) == {"vaccines"}
    dense = filled.search_dense(embed(legal), 2, medical)
    assert len(dense) == 2
    assert doc_ids(dense) == {"vaccines"}


def test_filter_matching_nothing_returns_nothing(filled: Store, embed: Embed) -> None:
    nothing: list[Filters] = [
        {"domain": "astrology"},
        {"no_key": 1},
        {"domain": "legal", "year": 1},
    ]
    for filters in nothing:
        assert filled.search_bm25("contract offer", 10, filters) == []
        assert filled.search_dense(embed("contract offer"), 10, filters) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"year": 2020}, {"contract-law", "vaccines", "aqueducts"}),
        ({"year": "2020"}, {"contract-law", "vaccines", "aqueducts"}),
        ({"year": 2020.0}, {"contract-law", "vaccines", "aqueducts"}),
        ({"reviewed": True}, {"photosynthesis", "contract-law", "vaccines"}),
        ({"reviewed": "true"}, {"photosynthesis", "contract-law", "vaccines"}),
        ({"reviewed": False}, {"bond-yields", "volcanoes"}),
        ({"reviewed": "no"}, {"aqueducts"}),
        ({"domain": "science", "year": 2019}, {"photosynthesis"}),
        ({"page": 2, "domain": "finance"}, {"bond-yields"}),
    ],
)
def test_filter_values_compare_as_json_scalars(
    filled: Store, embed: Embed, filters: Filters, expected: set[str]
) -> None:
    dense = filled.search_dense(embed("the"), 100, filters)
    bm25 = filled.search_bm25(" ".join(QUERIES), 100, filters)
    assert doc_ids(dense) == expected
    assert doc_ids(bm25) == expected
    if "page" in filters:
        assert {h.chunk.page for h in dense + bm25} == {filters["page"]}


@pytest.mark.parametrize("value", [10**29, -(2**63) - 1, 2**63])
def test_out_of_range_integer_filters_are_refused(filled: Store, embed: Embed, value: int) -> None:
    # SQLite binds int64: a larger Python int used to escape as OverflowError (a 500).
    with pytest.raises(InvalidInputError, match="out of range"):
        filled.search_bm25("contract", 5, {"year": value})
    with pytest.raises(InvalidInputError, match="out of range"):
        filled.search_dense(embed("contract"), 5, {"year": value})
    with pytest.raises(InvalidInputError, match="out of range"):
        filled.delete_where({"year": value})
    assert filled.stats().documents == 6


@pytest.mark.parametrize("value", [str(10**29), str(-(2**63) - 1), "9" * 5000])
def test_digit_strings_past_int64_match_only_as_text(
    filled: Store, embed: Embed, value: str
) -> None:
    assert filled.search_bm25("contract", 5, {"year": value}) == []
    assert filled.search_dense(embed("contract"), 5, {"year": value}) == []
    assert filled.delete_where({"year": value}) == 0
    assert filled.stats().documents == 6


@pytest.mark.parametrize("key", ["bad key", "x; DROP TABLE chunks", "$.domain", "", "a.b", "1x"])
def test_invalid_filter_keys_are_refused(filled: Store, embed: Embed, key: str) -> None:
    with pytest.raises(InvalidInputError):
        filled.search_bm25("contract", 5, {key: "x"})
    with pytest.raises(InvalidInputError):
        filled.search_dense(embed("contract"), 5, {key: "x"})
    with pytest.raises(InvalidInputError):
        filled.delete_where({key: "x"})
    assert filled.stats().documents == 6


@pytest.mark.parametrize("query", QUERIES)
def test_bm25_ranks_the_obvious_document_first(filled: Store, query: str) -> None:
    hits = filled.search_bm25(query, 5)
    expected = ["photosynthesis", "bond-yields", "contract-law", "vaccines", "volcanoes"]
    assert hits[0].doc_id == [*expected, "aqueducts"][QUERIES.index(query)]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_dense_ranks_the_identical_text_first(
    filled: Store, embed: Embed, corpus: list[DocumentWrite]
) -> None:
    for chunk in (c for w in corpus for c in w.chunks):
        hits = filled.search_dense(embed(chunk.text), 3)
        assert hits[0].chunk.id == chunk.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_k_bounds_the_results(filled: Store, embed: Embed) -> None:
    assert len(filled.search_dense(embed("water"), 1000)) == 12
    assert len(filled.search_dense(embed("water"), 3)) == 3
    assert len(filled.search_bm25(" ".join(QUERIES), 4)) == 4


def test_dense_hits_carry_their_cosine_and_bm25_hits_none(filled: Store, embed: Embed) -> None:
    dense = filled.search_dense(embed(QUERIES[0]), 12)
    assert dense and all(h.cosine == h.score for h in dense)
    assert all(h.cosine is None for h in filled.search_bm25(QUERIES[0], 12))


def test_cosines_of_named_chunks_are_their_dense_scores(filled: Store, embed: Embed) -> None:
    query = embed("water carried to cities")
    dense = {h.chunk.id: h.score for h in filled.search_dense(query, 12)}
    some = sorted(dense)[::3]
    found = filled.cosines(query, [*some, "no-such-chunk#0", some[0]])
    assert found.keys() == set(some)  # unknown ids are left out, repeats count once
    for chunk_id in some:
        assert found[chunk_id] == pytest.approx(dense[chunk_id], abs=1e-5)
    assert filled.cosines(query, []) == {}


def test_cosines_of_deleted_chunks_are_left_out(filled: Store, embed: Embed) -> None:
    filled.delete(["volcanoes"])
    assert filled.cosines(embed("magma"), ["volcanoes#0", "aqueducts#0"]).keys() == {"aqueducts#0"}


def test_stats_and_documents_paging(filled: Store) -> None:
    everything = filled.documents()
    pages = filled.documents(0, 2) + filled.documents(2, 2) + filled.documents(4, 10)
    assert pages == everything
    assert len(everything) == 6
    assert filled.documents(6) == []
    assert filled.documents(1, 1) == [everything[1]]


def test_reopened_store_keeps_everything(reopen: Reopen, filled: Store, embed: Embed) -> None:
    before = (
        filled.stats(),
        filled.documents(),
        [(h.chunk, round(h.score, 4)) for h in filled.search_dense(embed(QUERIES[3]), 5)],
        [h.chunk for h in filled.search_bm25(QUERIES[1], 5)],
    )
    reopened = reopen(filled)
    after = (
        reopened.stats(),
        reopened.documents(),
        [(h.chunk, round(h.score, 4)) for h in reopened.search_dense(embed(QUERIES[3]), 5)],
        [h.chunk for h in reopened.search_bm25(QUERIES[1], 5)],
    )
    assert after == before


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced quote',
        "AND",
        "OR NOT",
        "NEAR(water cities)",
        "*",
        "photo*",
        "(",
        ")",
        "title:water",
        "- + ^ : {",
        "🧪🔥",
        'water 💧 "arches" AND (gravity OR',
        "'; DROP TABLE chunks; --",
        "\x00\x01",
        "",
        "   ",
        "the and of",
        "_",
    ],
)
def test_odd_query_text_never_errors(filled: Store, query: str) -> None:
    hits = filled.search_bm25(query, 5)
    assert all(isinstance(h, Hit) for h in hits)
    if not any(ch.isalnum() for ch in query) or query == "the and of":
        assert hits == []
    assert filled.stats().chunks == 12


def test_quoted_operators_search_as_words(filled: Store) -> None:
    hits = filled.search_bm25('"arches" AND (gravity OR', 10)
    assert doc_ids(hits) == {"aqueducts"}
    assert filled.search_bm25('water "arches" AND (gravity OR', 1)[0].doc_id == "aqueducts"


def test_a_failed_batch_writes_nothing(
    store: Store, writes: Callable[..., DocumentWrite], corpus: list[DocumentWrite]
) -> None:
    good = corpus[0]
    broken = corpus[1]
    bad = DocumentWrite(broken.document, broken.chunks, broken.vectors[:1])
    with pytest.raises(InvalidInputError):
        store.write([good, bad])
    assert store.stats().documents == 0
    assert store.search_bm25("photosynthesis", 5) == []


def test_a_selective_filter_still_finds_its_few_matches(
    store: Store, writes: Callable[..., DocumentWrite], embed: Embed
) -> None:
    # Approximate indexes (HNSW, IVF) walk a graph or a few lists; with a filter that leaves
    # 3 chunks out of hundreds they can miss them. The contract is: all 3 come back.
    words = ("river", "stone", "light", "cell", "bond", "court", "virus", "magma", "orbit")
    batch = [
        writes(
            f"bulk-{n:03d}",
            "Bulk",
            {"group": "rare" if n % 100 == 7 else "common"},
            [" ".join(words[(n * 7 + i * 3 + j) % len(words)] for j in range(6)) for i in range(2)],
        )
        for n in range(300)
    ]
    store.write(batch)
    rare = {"group": "rare"}
    expected = {"bulk-007", "bulk-107", "bulk-207"}
    assert doc_ids(store.search_dense(embed("river stone"), 6, rare)) == expected
    assert len(store.search_dense(embed("river stone"), 6, rare)) == 6
    assert len(store.search_dense(embed("orbit carbon"), 100, rare)) == 6


@pytest.mark.parametrize("kind", FUSION_KINDS)
def test_hybrid_fusion_weight_moves_between_the_two_rankings(
    filled: Store, retriever: Retriever, embed: Embed, kind: FusionKind
) -> None:
    # A query where the rankings disagree on the order below the top: the fused order with
    # all weight on one side is that side's order, on every engine (scores differ by engine,
    # normalised or ranked fusion does not care).
    query = "light energy sugars water carbon dioxide"
    dense = [h.chunk.id for h in filled.search_dense(embed(query), 20)]
    bm25 = [h.chunk.id for h in filled.search_bm25(query, 20)]
    assert dense[:2] != bm25[:2]  # the test needs two different rankings
    only_dense = retriever.search(query, "hybrid", 2, fusion=Fusion(kind, 1.0))
    only_bm25 = retriever.search(query, "hybrid", 2, fusion=Fusion(kind, 0.0))
    assert [h.chunk.id for h in only_dense] == dense[:2]
    assert [h.chunk.id for h in only_bm25] == bm25[:2]
    if kind != "rrf":  # a normalised score: the best of the weighted side is exactly 1
        assert only_dense[0].score == pytest.approx(1.0)
        assert only_bm25[0].score == pytest.approx(1.0)


def test_chunk_headers_are_searched_and_the_text_stays_the_source(
    engine: Any, store: Store, retriever: Retriever
) -> None:
    # A section longer than one chunk: only its first chunk's text names the spice; the
    # header (title > heading) carries the name into every chunk's index entry, on every engine.
    body = " ".join(f"Sentence {i} talks about drying buds in the sun." for i in range(12))
    doc = Document(
        "spices.md",
        (Section(f"Zanzibar cloves\n\n{body}", heading_path=("Zanzibar cloves",)),),
        title="Spice trade",
    )
    config = engine.config.model_copy(
        update={"chunk_headers": True, "chunk_tokens": 32, "chunk_overlap": 0}
    )
    embedder = HashingEmbedder(dim=retriever.embedder.dim)  # the suite's: deterministic
    Ingestor(store, embedder, config).ingest_documents([doc], progress=False)
    chunks = store.search_bm25("drying buds sun", 100)
    assert len(chunks) > 2
    found = store.search_bm25("zanzibar", 100)
    assert {h.chunk.id for h in found} == {h.chunk.id for h in chunks}
    assert {h.chunk.id for h in retriever.search("zanzibar", "hybrid", 100)} >= {
        h.chunk.id for h in chunks
    }
    for hit in found:
        assert hit.chunk.title == "Spice trade > Zanzibar cloves"
        assert hit.chunk.text in doc.sections[0].text


def test_a_path_filter_matches_the_file_name_without_its_folder(
    filled: Store, embed: Embed, writes: Callable[..., DocumentWrite]
) -> None:
    filled.write(
        [
            writes(
                "reports/3M_2018_10K.pdf",
                "3M",
                {"path": "reports/3M_2018_10K.pdf", "filename": "3M_2018_10K.pdf"},
                ["Adhesives and abrasives drove industrial segment sales."],
            ),
            writes(
                "3M_2018_10K.pdf",
                "3M copy",
                {"path": "3M_2018_10K.pdf", "filename": "3M_2018_10K.pdf"},
                ["A second copy of the filing, ingested as a single file."],
            ),
        ]
    )
    both = {"reports/3M_2018_10K.pdf", "3M_2018_10K.pdf"}
    for filters, expected in [
        ({"path": "3M_2018_10K.pdf"}, both),  # the file name, in any folder
        ({"path": "reports/3M_2018_10K.pdf"}, {"reports/3M_2018_10K.pdf"}),  # the full path
        ({"filename": "3M_2018_10K.pdf"}, both),
        ({"path": "reports"}, set()),
    ]:
        assert doc_ids(filled.search_dense(embed("the"), 100, filters)) == expected, filters
        assert doc_ids(filled.search_bm25("filing sales", 100, filters)) == expected, filters
    assert filled.delete_where({"path": "reports/3M_2018_10K.pdf"}) == 1
    assert doc_ids(filled.search_bm25("filing sales", 100, {"path": "3M_2018_10K.pdf"})) == {
        "3M_2018_10K.pdf"
    }
