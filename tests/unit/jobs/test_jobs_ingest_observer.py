"""The ingestor's progress observer: stage reports, and a cancel that stops at a safe point."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.ingest import IngestCancelled, IngestObserver, Ingestor
from rag.embedding.fake import HashingEmbedder
from rag.kb import KBConfig
from rag.stores.base import Store
from rag.stores.factory import open_store
from rag.types import Document, Section

DOCS = [Document(f"d{n}", (Section(f"document {n} says word{n}"),)) for n in range(10)]
EMBEDDER = HashingEmbedder(dim=32)
CONFIG = KBConfig(
    name="kb", embedder=EMBEDDER.name, dim=EMBEDDER.dim, chunk_tokens=48, chunk_overlap=4
)


class Recorder:
    """Counts every report; asks to stop once `stop_after` chunks were indexed."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.seen: Counter[str] = Counter()
        self.asked = 0

    def parsed(self, docs: int, seconds: float) -> None:
        self.seen["parsed"] += docs

    def chunked(self, docs: int, chunks: int) -> None:
        self.seen["chunked docs"] += docs
        self.seen["chunked"] += chunks

    def embedded(self, chunks: int, seconds: float) -> None:
        self.seen["embedded"] += chunks

    def indexed(self, chunks: int, seconds: float) -> None:
        self.seen["indexed"] += chunks

    def cancelled(self) -> bool:
        self.asked += 1
        return self.stop_after is not None and self.seen["indexed"] >= self.stop_after


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(CONFIG, tmp_path / "kb")
    yield opened
    opened.close()


def ingestor(store: Store) -> Ingestor:
    return Ingestor(store, EMBEDDER, CONFIG, batch_chunks=3, flush_seconds=3600)


def test_observer_sees_every_stage(store: Store) -> None:
    recorder = Recorder()
    observer: IngestObserver = recorder  # the Protocol is satisfied structurally
    result = ingestor(store).ingest_documents(DOCS, progress=False, observer=observer)
    assert result.added == 10 and result.chunks == 10
    assert +recorder.seen == {
        "parsed": 10, "chunked docs": 10, "chunked": 10, "embedded": 10, "indexed": 10
    }  # fmt: skip
    assert recorder.asked >= 10 + 3  # before each document and after each full batch

    again = Recorder()
    ingestor(store).ingest_documents(DOCS, progress=False, observer=again)
    assert +again.seen == {"parsed": 10}  # unchanged: parsed and skipped, nothing else


class FlushCounter:
    """A store that counts its flushes (the rest is the real store's)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.flushes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def flush(self) -> None:
        self.flushes += 1
        self.inner.flush()


def test_cancel_stops_after_a_flushed_batch_and_a_rerun_finishes(store: Store) -> None:
    counted = FlushCounter(store)
    run = Ingestor(counted, EMBEDDER, CONFIG, batch_chunks=3, flush_seconds=3600)  # type: ignore[arg-type]
    with pytest.raises(IngestCancelled) as stopped:
        run.ingest_documents(DOCS, progress=False, observer=Recorder(stop_after=1))

    assert stopped.value.result.chunks == 3  # one batch of three one-chunk documents
    assert counted.flushes == 1  # made durable before the stop, though no flush was due
    assert [d.id for d in store.documents()] == ["d0", "d1", "d2"]

    rest = ingestor(store).ingest_documents(DOCS, progress=False)
    assert (rest.unchanged, rest.added, rest.chunks) == (3, 7, 7)
    assert store.stats().documents == 10


def test_cancel_before_any_write_writes_nothing(store: Store) -> None:
    with pytest.raises(IngestCancelled) as stopped:
        ingestor(store).ingest_documents(DOCS, progress=False, observer=Recorder(stop_after=0))
    assert stopped.value.result.chunks == 0
    assert store.stats().documents == 0


def test_ingest_paths_reports_failures_with_the_cancel(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nalpha")
    (folder / "bad.pdf").write_bytes(b"not a pdf")
    with pytest.raises(IngestCancelled) as stopped:
        ingestor(store).ingest_paths([folder], progress=False, observer=Recorder(stop_after=0))
    assert [f.path for f in stopped.value.result.failures] == []  # stopped before loading any
    result = ingestor(store).ingest_paths([folder], progress=False, observer=Recorder())
    assert result.added == 1 and [Path(f.path).name for f in result.failures] == ["bad.pdf"]
