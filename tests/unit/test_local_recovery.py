"""Crash safety of the embedded engine: every crash point leaves a KB that opens and answers.

A crash is simulated by copying the KB folder while the store is open (what `kill -9` would
leave on disk: committed SQLite pages and WAL, the last saved FAISS file), then opening the copy.
One test kills a real child process with `os._exit`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.fake import HashingEmbedder
from rag.errors import ConfigError, StoreError
from rag.stores.base import DocumentWrite
from rag.stores.local import LocalStore
from rag.stores.local.store import DB_FILE, VECTORS_FILE
from rag.stores.local.vectors import VectorIndex
from rag.stores.settings import VectorIndexSettings
from rag.types import Chunk, IndexKind, StoredDocument

DIM = 64
embedder = HashingEmbedder(dim=DIM)
# fmt: off
WORDS = (
    "river", "stone", "light", "cell", "bond", "court", "virus", "magma", "grain", "engine",
    "orbit", "carbon", "ledger", "patent", "enzyme", "glacier", "tariff", "neuron", "harbor",
    "copper", "verdict", "plasma", "yield", "fossil",
)
# fmt: on


def doc(n: int, chunks: int = 2, version: int = 1) -> DocumentWrite:
    """Document `d{n}` with distinctive chunk texts, different for each version."""
    rng = np.random.default_rng(n * 1000 + version)
    texts = [f"doc{n} part{i} v{version} " + " ".join(rng.choice(WORDS, 8)) for i in range(chunks)]
    doc_id = f"d{n:04d}"
    items = [
        Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, text=t, position=i, metadata={"n": n})
        for i, t in enumerate(texts)
    ]
    stored = StoredDocument(doc_id, f"h{version}", metadata={"n": n}, chunk_count=chunks)
    return DocumentWrite(stored, items, embedder.embed(texts))


def crash_copy(folder: Path, dest: Path) -> Path:
    """The files a process killed right now would leave behind (SQLite rebuilds -shm)."""
    dest.mkdir()
    for name in (DB_FILE, DB_FILE + "-wal", VECTORS_FILE, VECTORS_FILE + ".tmp"):
        if (folder / name).exists():
            shutil.copy2(folder / name, dest / name)
    return dest


def open_store(
    folder: Path, kind: IndexKind = "flat", ivfpq_min_chunks: int = 20_000
) -> LocalStore:
    return LocalStore(folder, DIM, kind, VectorIndexSettings(ivfpq_min_chunks=ivfpq_min_chunks))


def assert_answers(store: LocalStore, writes: list[DocumentWrite]) -> None:
    """Every chunk is found by its own text in dense and BM25 search."""
    for w in writes:
        for chunk in w.chunks:
            assert store.search_dense(embedder.embed([chunk.text])[0], 1)[0].chunk == chunk
            assert chunk.id in {h.chunk.id for h in store.search_bm25(chunk.text, 5)}


def never_returned(store: LocalStore, w: DocumentWrite) -> None:
    for chunk in w.chunks:
        dense = store.search_dense(embedder.embed([chunk.text])[0], 100)
        assert chunk.text not in {h.chunk.text for h in dense}
        assert chunk.text not in {h.chunk.text for h in store.search_bm25(chunk.text, 100)}


def saved_ids(folder: Path) -> np.ndarray:
    return VectorIndex.load(folder / VECTORS_FILE, DIM, VectorIndexSettings()).ids()


def stored_ids(folder: Path) -> np.ndarray:
    with sqlite3.connect(folder / DB_FILE) as conn:
        return np.array(sorted(r[0] for r in conn.execute("SELECT id FROM chunks")))


KINDS = pytest.mark.parametrize("kind", ["flat", "hnsw"])


@KINDS
def test_writes_never_flushed_are_indexed_on_open(kind: IndexKind, tmp_path: Path) -> None:
    writes = [doc(n) for n in range(6)]
    live = open_store(tmp_path / "kb", kind)
    live.write(writes)  # no flush: no vector file exists yet
    assert not (tmp_path / "kb" / VECTORS_FILE).exists()
    copy = crash_copy(tmp_path / "kb", tmp_path / "crashed")
    live.close()

    with open_store(copy, kind) as store:
        assert store.stats().chunks == 12
        assert_answers(store, writes)
    assert np.array_equal(saved_ids(copy), stored_ids(copy))


@KINDS
def test_writes_after_the_last_flush_are_re_added(kind: IndexKind, tmp_path: Path) -> None:
    first, second = [doc(n) for n in range(4)], [doc(n) for n in range(4, 8)]
    live = open_store(tmp_path / "kb", kind)
    live.write(first)
    live.flush()
    live.write(second)
    copy = crash_copy(tmp_path / "kb", tmp_path / "crashed")
    live.close()
    assert len(saved_ids(copy)) == 8  # the file on disk predates `second`

    with open_store(copy, kind) as store:
        assert_answers(store, first + second)
    assert np.array_equal(saved_ids(copy), stored_ids(copy))


@KINDS
def test_deletes_and_replaces_after_the_last_flush_never_return(
    kind: IndexKind, tmp_path: Path
) -> None:
    writes = [doc(n) for n in range(8)]
    live = open_store(tmp_path / "kb", kind)
    live.write(writes)
    live.flush()
    live.delete([writes[0].document.id])
    live.write([doc(1, chunks=1, version=2)])
    copy = crash_copy(tmp_path / "kb", tmp_path / "crashed")
    live.close()

    for _ in range(2):  # right after the crash, and once more after a clean close
        with open_store(copy, kind) as store:
            assert store.stats().documents == 7
            never_returned(store, writes[0])
            never_returned(store, writes[1])
            assert_answers(store, [doc(1, chunks=1, version=2), *writes[2:]])


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "empty"])
def test_a_lost_or_damaged_vector_file_is_rebuilt(damage: str, tmp_path: Path) -> None:
    writes = [doc(n) for n in range(5)]
    with open_store(tmp_path, "hnsw") as store:
        store.write(writes)
    path = tmp_path / VECTORS_FILE
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    else:
        path.write_bytes(b"")

    with open_store(tmp_path, "hnsw") as store:
        assert_answers(store, writes)
    assert np.array_equal(saved_ids(tmp_path), stored_ids(tmp_path))


def test_a_leftover_temp_file_is_ignored_and_removed(tmp_path: Path) -> None:
    writes = [doc(n) for n in range(3)]
    with open_store(tmp_path) as store:
        store.write(writes)
    (tmp_path / (VECTORS_FILE + ".tmp")).write_bytes(b"half a save")

    with open_store(tmp_path) as store:
        assert not (tmp_path / (VECTORS_FILE + ".tmp")).exists()
        assert_answers(store, writes)


def test_a_vector_file_of_another_kind_is_rebuilt(tmp_path: Path) -> None:
    writes = [doc(n) for n in range(3)]
    with open_store(tmp_path, "flat") as store:
        store.write(writes)
    with open_store(tmp_path, "hnsw") as store:
        assert_answers(store, writes)
    assert VectorIndex.load(tmp_path / VECTORS_FILE, DIM, VectorIndexSettings()).kind == "hnsw"


def test_hnsw_is_rebuilt_when_tombstones_pile_up(tmp_path: Path) -> None:
    writes = [doc(n) for n in range(10)]
    with open_store(tmp_path, "hnsw") as store:
        store.write(writes)
        store.flush()
        store.delete([w.document.id for w in writes[:1]])
        store.flush()  # 10% tombstones: kept, the file still holds the removed vectors
        assert len(saved_ids(tmp_path)) == 20
        store.delete([w.document.id for w in writes[1:3]])
        store.flush()  # 30%: rebuilt from SQLite
        assert np.array_equal(saved_ids(tmp_path), stored_ids(tmp_path))
        assert_answers(store, writes[3:])


def test_ids_in_a_file_newer_than_the_database_are_never_reused(tmp_path: Path) -> None:
    # Power loss can lose a commit that a saved FAISS file already reflects. Its ids must not
    # be handed out again, or a stale HNSW vector would answer for a new chunk.
    kb = tmp_path / "kb"
    with open_store(kb, "hnsw") as store:
        store.write([doc(0)])
    old_db = crash_copy(kb, tmp_path / "before")
    with open_store(kb, "hnsw") as store:
        store.write([doc(1)])
    shutil.copy2(kb / VECTORS_FILE, old_db / VECTORS_FILE)  # SQLite lost doc 1, FAISS kept it

    with open_store(old_db, "hnsw") as store:
        assert store.stats().documents == 1
        never_returned(store, doc(1))
        store.write([doc(2)])
        assert_answers(store, [doc(0), doc(2)])
        never_returned(store, doc(1))
    # Ids 3 and 4 were doc 1's in the newer file: doc 2 must get fresh ones.
    assert saved_ids(kb).tolist() == [1, 2, 3, 4]
    assert stored_ids(old_db).tolist() == [1, 2, 5, 6]


def test_ivfpq_kb_switches_from_flat_once_big_enough(tmp_path: Path) -> None:
    writes = [doc(n, chunks=4) for n in range(300)]
    with open_store(tmp_path, "ivfpq", ivfpq_min_chunks=1000) as store:
        store.write(writes[:150])
        store.flush()
        assert VectorIndex.load(tmp_path / VECTORS_FILE, DIM, VectorIndexSettings()).kind == "flat"
        store.write(writes[150:])
        store.flush()
        assert VectorIndex.load(tmp_path / VECTORS_FILE, DIM, VectorIndexSettings()).kind == "ivfpq"
        store.delete([writes[0].document.id])

    with sqlite3.connect(tmp_path / DB_FILE) as conn:
        (saved,) = conn.execute("SELECT value FROM meta WHERE key = 'vectors_saved'").fetchone()
    assert json.loads(saved) == {"kind": "ivfpq", "count": 1196}
    with open_store(tmp_path, "ivfpq", ivfpq_min_chunks=1000) as store:
        never_returned(store, writes[0])
        sample = [c for w in writes[1::10] for c in w.chunks]
        found = [store.search_dense(embedder.embed([c.text])[0], 1)[0].chunk == c for c in sample]
        assert np.mean(found) >= 0.9
        assert (
            store.search_dense(embedder.embed([sample[0].text])[0], 3, {"n": 1})[0].chunk
            == (sample[0])
        )


def test_a_killed_process_leaves_a_kb_that_opens(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path[:0] = {[str(Path(__file__).parent), *sys.path]!r}
        from test_local_recovery import doc, open_store
        from pathlib import Path
        store = open_store(Path({str(tmp_path)!r}), "hnsw")
        store.write([doc(n) for n in range(4)])
        store.flush()
        store.delete(["d0000"])
        store.write([doc(n) for n in range(4, 6)])
        os._exit(9)  # no close, no flush, no atexit: like kill -9 after the last commit
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()

    with open_store(tmp_path, "hnsw") as store:
        assert store.stats().documents == 5
        never_returned(store, doc(0))
        assert_answers(store, [doc(n) for n in range(1, 6)])


def test_a_damaged_database_is_refused_not_crashed_on(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.write([doc(0)])
    (tmp_path / DB_FILE).write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError):
        open_store(tmp_path)


def test_a_kb_refuses_another_dimension(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.write([doc(0)])
    with pytest.raises(ConfigError):
        LocalStore(tmp_path, DIM * 2, "flat")
    with open_store(tmp_path) as store:  # the refused open changed nothing
        assert_answers(store, [doc(0)])


def test_a_failed_save_leaves_no_temp_file_and_keeps_the_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.stores.local import vectors

    writes = [doc(n) for n in range(3)]
    real_write = vectors.faiss.write_index

    def disk_full(index: object, path: str) -> None:
        real_write(index, path)  # a partial file exists when the disk fills up
        raise RuntimeError("Error in fwrite: No space left on device")

    store = open_store(tmp_path)
    store.write(writes)
    monkeypatch.setattr(vectors.faiss, "write_index", disk_full)
    with pytest.raises(RuntimeError):
        store.flush()
    assert not (tmp_path / (VECTORS_FILE + ".tmp")).exists()
    assert_answers(store, writes)  # still searchable in this process
    monkeypatch.undo()
    store.close()
    with open_store(tmp_path) as reopened:
        assert_answers(reopened, writes)
