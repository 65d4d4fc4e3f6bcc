"""The engines the contract suite runs against, and the small corpus it runs on.

Each engine is one entry in ENGINES: the KB config fields that select it. Stores are opened
through the real factory (`open_store`), and what an engine stored is dropped after each test.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.composition import store_settings
from rag.config import Settings
from rag.embedding.base import Vectors
from rag.embedding.fake import HashingEmbedder
from rag.kb import KBConfig
from rag.retrieval import Retriever
from rag.stores.base import DocumentWrite, Store
from rag.stores.factory import drop_store, open_store
from rag.types import Chunk, StoredDocument

DIM = 64

# Adding an engine is one more entry here (the Elasticsearch one marked
# `pytest.mark.elasticsearch`, since it needs a server).
ENGINES = [
    pytest.param({"engine": "local", "index": "flat"}, id="local-flat"),
    pytest.param({"engine": "local", "index": "hnsw"}, id="local-hnsw"),
    pytest.param(
        {"engine": "elasticsearch", "index": "hnsw"},
        id="elasticsearch",
        marks=pytest.mark.elasticsearch,
    ),
]

# (doc id, title, metadata, paragraphs): one paragraph per chunk.
CORPUS: list[tuple[str, str, dict[str, Any], list[str]]] = [
    (
        "photosynthesis",
        "Photosynthesis",
        {"domain": "science", "year": 2019, "reviewed": True},
        [
            "Photosynthesis converts light energy into chemical energy. Plants, algae and "
            "cyanobacteria capture sunlight with chlorophyll inside their chloroplasts.",
            "The light reactions split water and release oxygen, while the Calvin cycle fixes "
            "carbon dioxide into sugars using ATP and NADPH.",
        ],
    ),
    (
        "bond-yields",
        "Bond prices and yields",
        {"domain": "finance", "year": 2021, "reviewed": False},
        [
            "Bond prices move inversely to yields: when market interest rates rise, the price "
            "of an existing fixed coupon bond falls.",
            "Duration measures how sensitive a bond portfolio is to a change in rates; central "
            "banks steer short-term rates through their policy decisions.",
        ],
    ),
    (
        "contract-law",
        "Formation of contracts",
        {"domain": "legal", "year": 2020, "reviewed": True},
        [
            "A contract is formed by offer and acceptance supported by consideration and an "
            "intention to create legal relations.",
            "After a breach of contract the injured party may claim damages, and courts may "
            "order specific performance when damages are inadequate.",
        ],
    ),
    (
        "vaccines",
        "How vaccines train immunity",
        {"domain": "medical", "year": 2020, "reviewed": True},
        [
            "Vaccines expose the immune system to an antigen so that it produces antibodies "
            "and memory cells without causing the disease.",
            "Messenger RNA vaccines deliver instructions for a spike protein; clinical trials "
            "measure their efficacy and safety in thousands of volunteers.",
        ],
    ),
    (
        "volcanoes",
        "Volcanoes",
        {"domain": "science", "year": 2018, "reviewed": False},
        [
            "Volcanoes form where magma rises through the crust, often at the boundaries of "
            "tectonic plates or above mantle hotspots.",
            "Explosive eruptions produce ash clouds and pyroclastic flows that race down the "
            "slopes faster than any vehicle.",
        ],
    ),
    (
        "aqueducts",
        "Roman aqueducts",
        # A year stored as a string, as some loaders do: filters must still match it.
        {"domain": "history", "year": "2020", "reviewed": "no"},
        [
            "Roman aqueducts carried water to cities by gravity alone, descending a few "
            "centimetres per kilometre over long distances.",
            "Stone arches such as the Pont du Gard lifted the channel across valleys.",
        ],
    ),
]

embedder = HashingEmbedder(dim=DIM)


def make_write(
    doc_id: str, title: str, metadata: dict[str, Any], paragraphs: list[str], version: str = "1"
) -> DocumentWrite:
    """A document with one chunk per paragraph, vectors from the hashing embedder."""
    chunks = [
        Chunk(
            id=f"{doc_id}#{i}",
            doc_id=doc_id,
            text=text,
            position=i,
            title=title,
            page=i + 1,
            heading_path=(title, f"part {i + 1}"),
            metadata={**metadata, "page": i + 1},
        )
        for i, text in enumerate(paragraphs)
    ]
    doc = StoredDocument(
        id=doc_id,
        content_hash=f"{doc_id}-v{version}",
        title=title,
        source=f"/corpus/{doc_id}.txt",
        metadata=metadata,
        chunk_count=len(chunks),
    )
    return DocumentWrite(doc, chunks, embedder.embed([c.text for c in chunks]))


class EngineUnderTest:
    """Opens stores of one KB of one engine; closes them and drops the KB afterwards."""

    def __init__(self, fields: dict[str, Any], folder: Path) -> None:
        name = f"contract-{uuid.uuid4().hex[:12]}"
        self.config = KBConfig(name=name, embedder=embedder.name, dim=DIM, **fields)
        self.folder = folder / name
        # From the environment, as the service would: RAG_ES_URL names the server.
        self.stores = store_settings(Settings(data_dir=folder))
        self._open: list[Store] = []

    def open(self) -> Store:
        store = open_store(self.config, self.folder, self.stores)
        self._open.append(store)
        return store

    def reopen(self, store: Store) -> Store:
        """Close `store` and open the same KB again."""
        self._open.remove(store)
        store.close()
        return self.open()

    def teardown(self) -> None:
        for store in self._open:
            store.close()
        drop_store(self.config, self.folder, self.stores)


def require_server(fields: dict[str, Any]) -> None:
    """Skip, with the reason, an engine whose server is not configured or not answering."""
    if fields["engine"] != "elasticsearch":
        return
    url = os.environ.get("RAG_ES_URL")
    if not url:
        pytest.skip("RAG_ES_URL is not set: export RAG_ES_URL=$(scripts/elasticsearch.sh start)")
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except OSError as exc:
        pytest.skip(f"no Elasticsearch answers at RAG_ES_URL={url}: {exc}")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineUnderTest]:
    require_server(request.param)
    harness = EngineUnderTest(request.param, tmp_path)
    yield harness
    harness.teardown()


@pytest.fixture
def store(engine: EngineUnderTest) -> Store:
    return engine.open()


@pytest.fixture
def reopen(engine: EngineUnderTest) -> Callable[[Store], Store]:
    """Close a store and open the same KB again."""
    return engine.reopen


@pytest.fixture
def corpus() -> list[DocumentWrite]:
    return [make_write(*entry) for entry in CORPUS]


@pytest.fixture
def filled(store: Store, corpus: list[DocumentWrite]) -> Store:
    store.write(corpus)
    return store


@pytest.fixture
def embed() -> Callable[[str], Vectors]:
    """The query vector of a text."""
    return lambda text: embedder.embed([text])[0]


@pytest.fixture
def writes() -> Callable[..., DocumentWrite]:
    """`make_write`, for tests that build their own documents."""
    return make_write


@pytest.fixture
def retriever(store: Store) -> Retriever:
    """Hybrid search over the store: built from its dense and BM25 searches."""
    return Retriever(store, embedder, hybrid_candidates=20)
