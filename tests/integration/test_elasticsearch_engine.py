"""The Elasticsearch engine against a real server: what the contract suite cannot show.

Needs RAG_ES_URL (e.g. `export RAG_ES_URL=$(scripts/elasticsearch.sh start)`); without it, or
when nothing answers there, the server tests skip with the reason. Each test gets a unique
index prefix and its indices are deleted afterwards.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from rag.embedding.fake import HashingEmbedder
from rag.errors import BackendUnavailableError, ConfigError, InvalidInputError, StoreError
from rag.stores.base import DocumentWrite
from rag.stores.elasticsearch import ElasticsearchStore, connect, generations
from rag.stores.elasticsearch import store as store_module
from rag.stores.elasticsearch.mapping import QUERY_ANALYZER, index_body
from rag.stores.elasticsearch.queries import spellings
from rag.types import Chunk, StoredDocument

DIM = 64
embedder = HashingEmbedder(dim=DIM)
needs_server = pytest.mark.elasticsearch


def make_write(
    doc_id: str,
    texts: list[str],
    metadata: dict[str, Any] | None = None,
    version: str = "1",
    title: str = "",
) -> DocumentWrite:
    """A document with one chunk per text, vectors from the hashing embedder."""
    meta = metadata or {}
    chunks = [
        Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, text=t, position=i, title=title, metadata=meta)
        for i, t in enumerate(texts)
    ]
    doc = StoredDocument(
        id=doc_id,
        content_hash=f"{doc_id}-v{version}",
        title=doc_id,
        source=f"/corpus/{doc_id}.txt",
        metadata=meta,
        chunk_count=len(chunks),
    )
    return DocumentWrite(doc, chunks, embedder.embed(texts))


def vec(text: str) -> Any:
    return embedder.embed([text])[0]


@pytest.fixture(scope="module")
def client() -> Iterator[Elasticsearch]:
    url = os.environ.get("RAG_ES_URL")
    if not url:
        pytest.skip("RAG_ES_URL is not set: export RAG_ES_URL=$(scripts/elasticsearch.sh start)")
    es = connect(url, request_timeout=60)
    try:
        es.info()
    except Exception as exc:  # any failure to answer means: no usable server here
        es.close()
        pytest.skip(f"no Elasticsearch answers at RAG_ES_URL={url}: {exc}")
    yield es
    es.close()


@pytest.fixture
def prefix(client: Elasticsearch) -> Iterator[str]:
    """A unique index prefix; every index under it is deleted after the test."""
    name = f"test-{uuid.uuid4().hex[:12]}-"
    yield name
    found = client.indices.get(index=f"{name}*", expand_wildcards="all")
    if found:
        client.indices.delete(index=",".join(found))


@pytest.fixture
def store(client: Elasticsearch, prefix: str) -> Iterator[ElasticsearchStore]:
    with ElasticsearchStore(client, "kb", DIM, prefix) as s:
        yield s


def doc_ids_found(store: ElasticsearchStore, text: str, filters: Any = None) -> set[str]:
    """Documents a query reaches in dense and BM25 search."""
    hits = store.search_dense(vec(text), 100, filters) + store.search_bm25(text, 100, filters)
    return {h.doc_id for h in hits}


def physical(client: Elasticsearch, prefix: str) -> list[str]:
    return sorted(client.indices.get(index=f"{prefix}*", expand_wildcards="all"))


@needs_server
def test_write_search_and_read_back(store: ElasticsearchStore) -> None:
    corpus = [
        make_write("glacier", ["Glaciers carve deep valleys", "Ice sheets retreat"], {"n": 1}),
        make_write("harbor", ["Ships dock in the harbor at dawn"], {"n": 2}),
    ]
    store.write(corpus)
    assert store.get_document("glacier") == corpus[0].document
    assert store.get_document("missing") is None
    assert [d.id for d in store.documents()] == ["glacier", "harbor"]
    assert (store.stats().documents, store.stats().chunks) == (2, 3)
    dense = store.search_dense(vec("Ships dock in the harbor at dawn"), 3)
    assert dense[0].chunk == corpus[1].chunks[0]
    # Elasticsearch reports (1 + cos) / 2; the store hands back cosine itself.
    assert dense[0].score == pytest.approx(1.0, abs=1e-4)
    expected = float(vec("Ice sheets retreat") @ vec("Ships dock in the harbor at dawn"))
    by_id = {h.chunk.id: h.score for h in dense}
    assert by_id["glacier#1"] == pytest.approx(expected, abs=1e-4)
    assert store.search_bm25("glaciers valleys", 1)[0].chunk == corpus[0].chunks[0]


@needs_server
def test_a_deleted_document_is_never_returned(
    client: Elasticsearch, prefix: str, store: ElasticsearchStore
) -> None:
    store.write([make_write(f"d{i}", [f"comet tail number {i}"], {"g": i % 2}) for i in range(6)])
    assert store.delete(["d1", "d2", "nope"]) == 2
    assert store.delete(["d1"]) == 0
    assert store.delete_where({"g": "0"}) == 2  # d0, d4 (d2 is gone already)
    assert doc_ids_found(store, "comet tail number") == {"d3", "d5"}
    assert [d.id for d in store.documents()] == ["d3", "d5"]
    assert store.get_document("d1") is None
    # Another client on the same KB sees the same thing: nothing is cached in the store.
    other = ElasticsearchStore(client, "kb", DIM, prefix)
    assert doc_ids_found(other, "comet tail number") == {"d3", "d5"}


@needs_server
def test_replace_keeps_no_stale_chunks(store: ElasticsearchStore) -> None:
    store.write([make_write("doc", ["orchard apples", "violin strings", "desert sand"])])
    store.write([make_write("doc", ["reactor core"], version="2")])
    assert store.stats().chunks == 1
    assert doc_ids_found(store, "violin strings desert sand orchard") <= {"doc"}
    assert [h.chunk.text for h in store.search_dense(vec("violin"), 10)] == ["reactor core"]
    assert store.search_bm25("violin desert orchard", 10) == []


@needs_server
def test_the_filter_applies_inside_knn(store: ElasticsearchStore) -> None:
    # 300 near-copies of the query outrank the 2 wanted chunks: filtering the top
    # num_candidates (100 for k=2) after the search would leave nothing.
    crowd = [
        make_write(f"a{i:03d}", [f"enzyme kinetics assay {i}"], {"lab": "a"}) for i in range(300)
    ]
    wanted = [make_write(f"b{i}", [f"enzyme harbor violin {i}"], {"lab": "b"}) for i in range(2)]
    store.write(crowd + wanted)
    query = vec("enzyme kinetics assay")
    assert {h.doc_id for h in store.search_dense(query, 2)} <= {w.document.id for w in crowd}
    hits = store.search_dense(query, 2, {"lab": "b"})
    assert sorted(h.doc_id for h in hits) == ["b0", "b1"]
    assert store.search_dense(query, 5, {"lab": "nobody"}) == []
    assert store.search_dense(query, 5, {"no_such_key": 1}) == []


@needs_server
def test_bulk_errors_name_the_failed_documents(store: ElasticsearchStore) -> None:
    good = make_write("good", ["signal garden engine"])
    broken = make_write("broken", ["winter market light"])
    # A loader bug: a page that is not a number. The server rejects that one chunk.
    bad_chunk = Chunk(id="broken#0", doc_id="broken", text="winter market light", position=0)
    object.__setattr__(bad_chunk, "page", "twelve")
    bad = DocumentWrite(broken.document, [bad_chunk], broken.vectors)
    with pytest.raises(StoreError, match="broken") as caught:
        store.write([good, bad])
    assert "'good'" not in str(caught.value)
    assert doc_ids_found(store, "signal garden engine winter market light") == {"good"}
    # The failed document is listed with an empty hash, so the next sync writes it again.
    assert store.get_document("broken") == StoredDocument(
        id="broken", content_hash="", title="broken", source="/corpus/broken.txt"
    )
    store.write([broken])
    assert store.get_document("broken") == broken.document
    assert store.search_dense(vec("winter market light"), 1)[0].doc_id == "broken"
    assert {h.doc_id for h in store.search_bm25("winter market light", 10)} == {"broken"}


@needs_server
def test_searches_during_a_rebuild_see_the_old_index_then_the_new(
    client: Elasticsearch, prefix: str, store: ElasticsearchStore
) -> None:
    store.write([make_write(f"old{i}", [f"granite quarry {i}"]) for i in range(20)])
    first = physical(client, prefix)
    fresh = store.create_generation()
    fresh.write([make_write(f"new{i}", [f"granite basalt {i}"]) for i in range(20)])
    # Written but not swapped in: the alias still answers from the old index.
    assert doc_ids_found(store, "granite").issubset({f"old{i}" for i in range(20)})

    seen: list[set[str]] = []
    stop = threading.Event()

    def search_until_stopped() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            seen.append({h.doc_id[:3] for h in store.search_bm25("granite", 50)})

    searcher = threading.Thread(target=search_until_stopped)
    searcher.start()
    time.sleep(0.3)
    fresh.swap_alias()
    time.sleep(0.3)
    stop.set()
    searcher.join()

    # Every search answered, from exactly one generation, and the swap happened once.
    assert seen and all(s in ({"old"}, {"new"}) for s in seen)
    flips = sum(1 for a, b in itertools.pairwise(seen) if a != b)
    assert seen[0] == {"old"} and seen[-1] == {"new"} and flips == 1
    assert len(store.documents()) == 20
    after = physical(client, prefix)
    assert len(after) == 1 and after != first  # the old generation is gone


@needs_server
def test_rebuild_swaps_in_a_complete_generation(
    client: Elasticsearch, prefix: str, store: ElasticsearchStore
) -> None:
    store.write([make_write("a", ["alpha"])])
    store.rebuild([[make_write("b", ["beta"])], [make_write("c", ["gamma"])]])
    assert [d.id for d in store.documents()] == ["b", "c"]
    with pytest.raises(InvalidInputError):
        store.rebuild([[make_write("d", ["delta"])], [make_write("", ["empty id"])]])
    # The failed rebuild left the live generation alone and its own index behind nothing.
    assert [d.id for d in store.documents()] == ["b", "c"]
    assert len(physical(client, prefix)) == 1


@needs_server
def test_bm25_scores_title_and_text_as_one_field(store: ElasticsearchStore) -> None:
    # Each chunk holds each query word once; "split" has "glacier" in its title and is the
    # shorter chunk (2 words against 3), so it ranks first, as in the local engine's FTS5
    # bm25(). Scoring the fields apart would put "whole" first: two words in its text beat
    # one word in each field of "split".
    store.write(
        [
            make_write("split", ["valley"], title="glacier"),
            make_write("whole", ["glacier valley"], title="harbor"),
        ]
    )
    assert [h.doc_id for h in store.search_bm25("glacier valley", 2)] == ["split", "whole"]


def bm25_scores(store: ElasticsearchStore, query: str) -> dict[str, float]:
    return {h.chunk.id: h.score for h in store.search_bm25(query, 10)}


@needs_server
def test_a_repeated_query_word_counts_once(store: ElasticsearchStore) -> None:
    store.write([make_write(f"d{i}", [f"glacier valley {'moraine ' * i}"]) for i in range(3)])
    once = bm25_scores(store, "glacier valley")
    assert len(once) == 3
    assert bm25_scores(store, "Glacier valley valleys VALLEY glacier's") == pytest.approx(once)


def legacy_body() -> dict[str, Any]:
    """The mapping before the query analyzer: text searched with `english`, repeats and all."""
    body = index_body(DIM, "hnsw")
    del body["settings"]["analysis"]
    for field in ("title", "text"):
        body["mappings"]["properties"][field] = {"type": "text", "analyzer": "english"}
    return body


@needs_server
def test_reindex_moves_a_kb_onto_the_current_mapping(
    client: Elasticsearch, prefix: str, store: ElasticsearchStore
) -> None:
    assert store.reindex() == 0  # nothing written yet: nothing to copy
    generations.create_next(client, store.alias, legacy_body(), aliased=True)
    corpus = [make_write(f"d{i}", [f"glacier valley {'moraine ' * i}", "harbor"]) for i in range(3)]
    store.write(corpus)
    assert bm25_scores(store, "glacier valley valley") != pytest.approx(
        bm25_scores(store, "glacier valley")
    )
    before = physical(client, prefix)

    assert store.reindex() == 9  # 3 records + 6 chunks

    after = physical(client, prefix)
    assert len(after) == 1 and after != before
    mapping = client.indices.get_mapping(index=store.alias)[after[0]]["mappings"]
    assert mapping["properties"]["text"]["search_analyzer"] == QUERY_ANALYZER
    assert bm25_scores(store, "glacier valley valley") == pytest.approx(
        bm25_scores(store, "glacier valley")
    )
    # Records, chunks and the stored vectors came across without re-embedding.
    assert store.documents() == [w.document for w in corpus]
    dense = store.search_dense(vec("glacier valley moraine moraine "), 1)
    assert dense[0].chunk == corpus[2].chunks[0]
    assert dense[0].score == pytest.approx(1.0, abs=1e-4)


@needs_server
def test_drop_deletes_every_index_and_the_alias(
    client: Elasticsearch, prefix: str, store: ElasticsearchStore
) -> None:
    store.write([make_write("a", ["alpha"])])
    neighbour = ElasticsearchStore(client, "kb-2", DIM, prefix)  # `kb-2.*` is not `kb.*`
    neighbour.write([make_write("n", ["neighbour"])])
    store.create_generation()  # an abandoned rebuild: unaliased, still the KB's
    store.drop()
    assert physical(client, prefix) == [f"{prefix}kb-2.000001"]
    assert not client.indices.exists_alias(name=store.alias)
    assert store.search_bm25("alpha", 5) == [] and store.stats().documents == 0
    assert [d.id for d in neighbour.documents()] == ["n"]


@needs_server
def test_documents_pages_past_one_request(
    store: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_PAGE", 3)
    store.write([make_write(f"doc{i:02d}", [f"text {i}"]) for i in range(10)])
    everything = store.documents()
    assert [d.id for d in everything] == [f"doc{i:02d}" for i in range(10)]
    assert store.documents(2, 5) == everything[2:7]
    assert store.documents(9, 5) == everything[9:]
    assert store.documents(10) == []


@needs_server
def test_a_kb_of_another_dimension_is_refused(client: Elasticsearch, prefix: str) -> None:
    ElasticsearchStore(client, "kb", DIM, prefix).write([make_write("a", ["alpha"])])
    other = ElasticsearchStore(client, "kb", DIM * 2, prefix)
    empty = DocumentWrite(make_write("b", []).document, [], np.empty((0, DIM * 2), np.float32))
    with pytest.raises(ConfigError, match="dim"):
        other.write([empty])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_an_unreachable_server_is_a_typed_error_fast() -> None:
    es = connect(f"http://127.0.0.1:{closed_port()}", request_timeout=5)
    store = ElasticsearchStore(es, "kb", DIM)
    calls: list[Callable[[], object]] = [
        lambda: store.search_bm25("anything", 5),
        lambda: store.search_dense(vec("anything"), 5),
        lambda: store.write([make_write("a", ["alpha"])]),
        lambda: store.delete(["a"]),
        store.documents,
        store.stats,
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="unreachable"):
            call()
        assert time.monotonic() - started < 5
    es.close()


def test_settings_are_checked_without_a_server() -> None:
    es = connect()  # builds no connection
    with pytest.raises(ConfigError):
        ElasticsearchStore(es, "Bad Name", DIM)
    with pytest.raises(ConfigError):
        ElasticsearchStore(es, "kb", DIM, prefix="-x")
    with pytest.raises(ConfigError):
        ElasticsearchStore(es, "kb", 0)
    with pytest.raises(ConfigError):
        connect(username="elastic")
    with pytest.raises(ConfigError):
        connect(username="elastic", password="x", api_key="k")
    store = ElasticsearchStore(es, "kb", DIM)
    with pytest.raises(InvalidInputError):
        store.search_bm25("x", 5, {"a.b": 1})
    with pytest.raises(InvalidInputError):
        store.search_dense(vec("x"), 0)
    es.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2020, ["2020", "2020.0"]),
        (2020.0, ["2020", "2020.0"]),
        ("2020", ["2020", "2020.0"]),
        ("1.5", ["1.5"]),
        (True, ["true"]),
        ("True", ["True", "true"]),
        ("no", ["no"]),
    ],
)
def test_filter_values_match_every_spelling_of_a_json_scalar(
    value: str | int | float | bool, expected: list[str]
) -> None:
    assert spellings("k", value) == expected
