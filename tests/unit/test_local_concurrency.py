"""The embedded engine with many readers and more than one writer.

Two `LocalStore`s on one folder stand for two processes: each holds its own SQLite connections,
its own FAISS index and its own handle on the folder's lock file, as a `rag serve` and a
`rag ingest` would. (A real two-process run is tests/integration/test_second_writer.py.)
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from rag.embedding.fake import HashingEmbedder
from rag.errors import StoreError
from rag.stores.base import DocumentWrite
from rag.stores.local import LocalStore
from rag.stores.local.store import LOCK_FILE, VECTORS_FILE
from rag.stores.local.vectors import VectorIndex
from rag.stores.settings import VectorIndexSettings
from rag.types import Chunk, IndexKind, StoredDocument

DIM = 64
embedder = HashingEmbedder(dim=DIM)


def doc(name: str, text: str) -> DocumentWrite:
    chunk = Chunk(id=f"{name}#0", doc_id=name, text=text, position=0)
    return DocumentWrite(StoredDocument(name, "h1"), [chunk], embedder.embed([text]))


def dense_ids(store: LocalStore, text: str, k: int = 5) -> list[str]:
    return [h.chunk.doc_id for h in store.search_dense(embedder.embed([text])[0], k)]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_reader_sees_another_writers_documents_on_its_next_search(
    tmp_path: Path, kind: IndexKind
) -> None:
    with LocalStore(tmp_path, DIM, kind) as server, LocalStore(tmp_path, DIM, kind) as cli:
        server.write([doc("old", "granite basalt quarry")])
        assert dense_ids(server, "copper wire conducts") == ["old"]
        cli.write([doc("new", "copper wire conducts current")])
        cli.flush()
        assert dense_ids(server, "copper wire conducts")[0] == "new"
        cli.delete(["old"])
        assert dense_ids(server, "granite basalt quarry") == ["new"]
        # ...and the reader's own later writes keep both sides.
        server.write([doc("third", "glacier ice moraine")])
        assert set(dense_ids(cli, "glacier ice moraine")) == {"new", "third"}


def test_each_writers_flush_saves_every_committed_vector(tmp_path: Path) -> None:
    with LocalStore(tmp_path, DIM, "flat") as server, LocalStore(tmp_path, DIM, "flat") as cli:
        cli.write([doc(f"cli{i}", f"cli text {i}") for i in range(5)])
        cli.flush()
        server.write([doc(f"api{i}", f"api text {i}") for i in range(5)])
        server.flush()  # the last save wins: it must hold the CLI's vectors too
    saved = VectorIndex.load(tmp_path / VECTORS_FILE, DIM, VectorIndexSettings())
    assert saved.size == 10


def test_a_second_writer_waits_then_fails_naming_the_lock(tmp_path: Path) -> None:
    settings = VectorIndexSettings(write_lock_timeout=0.3)
    with LocalStore(tmp_path, DIM, "flat", settings) as store:
        other = FileLock(tmp_path / LOCK_FILE)  # another process, mid-write
        with other:
            started = time.monotonic()
            with pytest.raises(StoreError, match="another process has been writing"):
                store.write([doc("a", "blocked write")])
            assert time.monotonic() - started >= 0.3
            # Reads do not wait for writers of other processes.
            assert store.stats().documents == 0
        store.write([doc("a", "now it goes through")])
        assert store.stats().documents == 1


def test_a_waiting_writer_proceeds_when_the_lock_is_released(tmp_path: Path) -> None:
    with LocalStore(tmp_path, DIM, "flat") as store:
        other = FileLock(tmp_path / LOCK_FILE)
        other.acquire()
        writer = threading.Thread(target=store.write, args=([doc("a", "waits its turn")],))
        writer.start()
        time.sleep(0.3)
        assert store.stats().documents == 0
        other.release()
        writer.join(timeout=10)
        assert store.stats().documents == 1


def test_searches_from_many_threads_during_writes(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()
    with LocalStore(tmp_path, DIM, "hnsw") as store:
        store.write([doc(f"seed{i}", f"seed words {i} river stone") for i in range(20)])

        def search() -> None:
            query = embedder.embed(["river stone"])[0]
            try:
                while not stop.is_set():
                    hits = store.search_dense(query, 5)
                    assert len(hits) == 5
                    assert store.search_bm25("river", 5)
                    assert store.stats().documents >= 20
            except BaseException as exc:
                errors.append(exc)

        readers = [threading.Thread(target=search) for _ in range(8)]
        for t in readers:
            t.start()
        for i in range(30):
            store.write([doc(f"w{i}", f"written {i} river")])
            if i % 3 == 0:
                store.delete([f"w{i}"])
        stop.set()
        for t in readers:
            t.join(timeout=30)
        assert not errors, errors[0]
        assert store.stats().documents == 20 + 30 - 10
        ids = dense_ids(store, "written 29 river", k=60)
        assert "w29" in ids and "w27" not in ids


def test_each_thread_reads_through_its_own_connection(tmp_path: Path) -> None:
    with LocalStore(tmp_path, DIM, "flat") as store:
        store.write([doc("a", "alpha")])
        barrier = threading.Barrier(4)

        def read() -> None:
            barrier.wait()
            store.search_bm25("alpha", 1)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store._reader_conns) == 4  # one per reading thread, none shared
    with pytest.raises(StoreError, match="closed"):
        store.search_dense(np.ones(DIM, dtype=np.float32) / 8, 1)
