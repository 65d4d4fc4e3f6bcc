"""The embedded engine: SQLite (rows, FTS5 BM25, the vectors themselves) plus a FAISS index.

A KB folder holds `kb.sqlite` (the source of truth) and `vectors.faiss` (derived from it).
A write commits to SQLite first, then updates the in-memory FAISS index; `flush()` saves that
index atomically. Opening reconciles the two, so a process killed at any moment leaves a KB
that opens, answers and completes on re-run.

Concurrency. Inside a process, searches run side by side: each thread reads SQLite through its
own read-only connection (WAL lets them read while a write commits) and FAISS under the shared
side of a readers-writer lock; a write, a flush or a catch-up takes the exclusive side, since
FAISS indexes are not safe to search while being changed. Across processes, every write and
flush first takes `write.lock` in the KB folder (filelock): a second writer waits up to
`write_lock_timeout` seconds, then fails with a StoreError naming the lock. Each document write
bumps a `generation` counter in SQLite; a process that finds the counter moved by someone else
brings its FAISS index up to date from SQLite (the rows hold the vectors) before its next
search or write, so a server never serves a stale index after a CLI ingest.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import get_args

import numpy as np
from filelock import FileLock, Timeout
from readerwriterlock import rwlock

from rag.embedding.base import Vectors
from rag.errors import ConfigError, InvalidInputError, StoreError
from rag.files import private_dir, private_file
from rag.stores.base import DocumentWrite, Filters
from rag.stores.checks import check_k, query_vector, write_vectors
from rag.stores.local import schema
from rag.stores.local import sqlite as rows
from rag.stores.local.filters import filter_sql
from rag.stores.local.keywords import fts_query
from rag.stores.local.repair import open_index, rebuild, rebuild_due, reconcile
from rag.stores.local.vectors import Ids
from rag.stores.settings import VectorIndexSettings
from rag.types import Hit, IndexKind, KBStats, StoredDocument

DB_FILE = "kb.sqlite"
VECTORS_FILE = "vectors.faiss"
LOCK_FILE = "write.lock"
# IVF-PQ scores are approximate: fetch this many times k and re-rank on the exact vectors.
REFINE = 4
# An approximate index can miss a small filtered set entirely; up to this many allowed chunks
# are then scored exactly from their stored vectors instead.
EXACT_FILTER_LIMIT = 20_000


class LocalStore:
    """The `Store` of one KB folder: SQLite with FTS5, and a FAISS index derived from it."""

    def __init__(
        self,
        folder: Path,
        dim: int,
        index: IndexKind,
        settings: VectorIndexSettings = VectorIndexSettings(),
    ) -> None:
        if dim < 1:
            raise ConfigError(f"vector dimension must be positive, got {dim}")
        if index not in get_args(IndexKind):
            raise ConfigError(f"unknown index kind {index!r}: use flat, hnsw or ivfpq")
        self.folder = folder
        self.dim = dim
        self.index_kind: IndexKind = index
        self._settings = settings
        # Writer-preferring: a write waiting behind a stream of searches is not starved.
        self._rw = rwlock.RWLockWrite()
        self._file_lock = FileLock(
            folder / LOCK_FILE, timeout=settings.write_lock_timeout, mode=0o600
        )
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        private_dir(folder)
        self._conn = schema.connect(private_file(folder / DB_FILE))
        try:
            with self._cross_process():
                self._check_dim()
                self._seen = schema.generation(self._conn)
                self._vectors, self._dirty = open_index(
                    self._conn, folder / VECTORS_FILE, index, dim, settings
                )
        except BaseException:
            self._conn.close()
            raise

    # -- writes -------------------------------------------------------------------------------

    def write(self, batch: Sequence[DocumentWrite]) -> None:
        """Insert or replace each document with its chunks and vectors, all or nothing."""
        checked = [(w, write_vectors(w, self.dim)) for w in batch]
        removed: list[Ids] = []
        added: list[tuple[Ids, Vectors]] = []
        with self._writing():
            with schema.transaction(self._conn):
                for w, vectors in checked:
                    removed.append(rows.delete_document(self._conn, w.document.id)[1])
                    rows.put_document(self._conn, w.document, len(w.chunks))
                    added.append((rows.insert_chunks(self._conn, w.chunks, vectors), vectors))
                generation = schema.bump_generation(self._conn)
            new_ids = np.concatenate([ids for ids, _ in added] or [np.empty(0, np.int64)])
            gone = np.concatenate(removed or [np.empty(0, np.int64)])
            # A document written twice in one batch: its first chunks were never in FAISS.
            keep = ~np.isin(new_ids, gone)
            self._vectors.remove(np.setdiff1d(gone, new_ids))
            if keep.any():
                self._vectors.add(new_ids[keep], np.concatenate([v for _, v in added])[keep])
            self._dirty = self._dirty or bool(len(gone) or len(new_ids))
            self._seen = generation

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents by id; returns how many existed."""
        with self._writing():
            return self._delete(doc_ids)

    def delete_where(self, filters: Filters) -> int:
        """Remove every document whose metadata matches; returns how many."""
        if not filters:
            raise InvalidInputError("delete_where needs at least one filter")
        with self._writing():
            return self._delete(rows.matching_doc_ids(self._conn, filters))

    # -- reads --------------------------------------------------------------------------------

    def documents(self, offset: int = 0, limit: int | None = None) -> list[StoredDocument]:
        """Stored documents ordered by id."""
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidInputError("offset and limit must not be negative")
        with self._reading() as conn:
            return rows.documents(conn, offset, limit)

    def get_document(self, doc_id: str) -> StoredDocument | None:
        """One stored document, or None."""
        with self._reading() as conn:
            return rows.get_document(conn, doc_id)

    def stats(self) -> KBStats:
        """Document and chunk counts."""
        with self._reading() as conn:
            docs, chunks = rows.counts(conn)
        return KBStats(documents=docs, chunks=chunks)

    def search_dense(self, vector: Vectors, k: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest chunks by inner product (cosine on normalised vectors), best first."""
        query = query_vector(vector, self.dim)
        check_k(k)
        self._catch_up_if_stale()
        with self._reading() as conn:
            allowed = rows.matching_chunk_ids(conn, filters) if filters else None
            if allowed is not None and not len(allowed):
                return []
            fetch = k * REFINE if self._vectors.kind == "ivfpq" else k
            _, ids = self._vectors.search(query, fetch, allowed)
            if (
                allowed is not None
                and len(ids) < min(k, len(allowed))
                and len(allowed) <= EXACT_FILTER_LIMIT
            ):
                ids = allowed
            return _rank_exact(conn, query, ids, k, self.dim)

    def search_bm25(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """Best chunks by FTS5 BM25 over title and text, best first; score = -bm25()."""
        check_k(k)
        filter_sql(filters or {}, "metadata")  # reject bad filters even when no term is left
        match = fts_query(query)
        if match is None:
            return []
        with self._reading() as conn:
            scored = rows.bm25(conn, match, k, filters)
            chunks = rows.get_chunks(conn, [i for i, _ in scored])
        return [Hit(chunk=chunks[i], score=s) for i, s in scored if i in chunks]

    def cosines(self, vector: Vectors, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Inner product (cosine) of `vector` and each named chunk's stored vector."""
        query = query_vector(vector, self.dim)
        if not chunk_ids:
            return {}
        with self._reading() as conn:
            names, vectors = rows.vectors_by_chunk_id(conn, chunk_ids, self.dim)
        # The same product as `_rank_exact`, so a chunk scores here what dense search gives it.
        return {name: float(s) for name, s in zip(names, vectors @ query, strict=True)}

    # -- durability ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Rebuild the vector index if due, then save it atomically if it changed."""
        with self._writing():
            self._flush()

    def rebuild_vectors(self) -> None:
        """Rebuild the vector index from the stored vectors now (drops HNSW tombstones)."""
        with self._writing():
            self._rebuild()

    def close(self) -> None:
        """Flush, then release the database; later calls raise StoreError."""
        try:
            with self._writing():
                self._flush()
        except StoreError:
            if self._closed:
                return
            raise
        finally:
            with self._rw.gen_wlock():
                if not self._closed:
                    self._closed = True
                    self._conn.close()
                    with self._readers_lock:
                        for conn in self._reader_conns:
                            conn.close()
                        self._reader_conns.clear()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    @contextmanager
    def _cross_process(self) -> Iterator[None]:
        """Hold the KB's write lock file; StoreError if another process keeps it too long."""
        try:
            self._file_lock.acquire()
        except Timeout:
            raise StoreError(
                f"another process has been writing to {self.folder} for "
                f"{self._settings.write_lock_timeout:g} s (lock {self.folder / LOCK_FILE}); "
                "try again when it finishes, or raise RAG_WRITE_LOCK_TIMEOUT"
            ) from None
        try:
            yield
        finally:
            self._file_lock.release()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Exclusive across processes and threads, with FAISS caught up with SQLite first."""
        self._check_open()
        # The file lock first: searches in this process go on while we wait for another one.
        with self._cross_process(), self._rw.gen_wlock():
            self._check_open()
            self._catch_up()
            yield

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's read connection, with FAISS held unchanged until the block ends."""
        with self._rw.gen_rlock():
            self._check_open()
            yield self._reader()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = schema.connect_reader(self.folder / DB_FILE)
            self._readers.conn = conn
            with self._readers_lock:
                self._reader_conns.append(conn)
        return conn

    def _catch_up_if_stale(self) -> None:
        """Before a search: if another process wrote since we last looked, catch up first."""
        with self._reading() as conn:
            stale = schema.generation(conn) != self._seen
        if stale:
            with self._rw.gen_wlock():
                self._check_open()
                self._catch_up()

    def _catch_up(self) -> None:
        """Bring FAISS up to what SQLite holds when another process has written (exclusive)."""
        current = schema.generation(self._conn)
        if current != self._seen:
            self._dirty = reconcile(self._conn, self._vectors) or self._dirty
            self._seen = current

    def _delete(self, doc_ids: Sequence[str]) -> int:
        existed = 0
        gone: list[Ids] = []
        with schema.transaction(self._conn):
            for doc_id in dict.fromkeys(doc_ids):  # unique, in order
                found, ids = rows.delete_document(self._conn, doc_id)
                existed += found
                gone.append(ids)
            changed = existed or any(len(ids) for ids in gone)
            generation = schema.bump_generation(self._conn) if changed else self._seen
        if gone:
            removed = np.concatenate(gone)
            self._vectors.remove(removed)
            self._dirty = self._dirty or bool(len(removed))
        self._seen = generation
        return existed

    def _flush(self) -> None:
        if rebuild_due(self._vectors, self.index_kind, self._settings):
            self._rebuild()
        if not self._dirty:
            return
        self._vectors.save(self.folder / VECTORS_FILE)
        # Recorded after the rename: a crash in between leaves a record of the older file,
        # which is harmless because opening always reconciles against the file's own ids.
        saved = {"kind": self._vectors.kind, "count": self._vectors.size}
        schema.set_meta(self._conn, "vectors_saved", json.dumps(saved))
        self._dirty = False

    def _rebuild(self) -> None:
        self._vectors = rebuild(self._conn, self.index_kind, self.dim, self._settings)
        self._dirty = True

    def _check_dim(self) -> None:
        stored = schema.get_meta(self._conn, "dim")
        if stored is None:
            schema.set_meta(self._conn, "dim", str(self.dim))
        elif int(stored) != self.dim:
            raise ConfigError(f"{self.folder} holds vectors of dim {stored}, not {self.dim}")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store of {self.folder} is closed")


def _rank_exact(conn: sqlite3.Connection, query: Vectors, ids: Ids, k: int, dim: int) -> list[Hit]:
    found, vectors = rows.vectors_of(conn, ids, dim)
    if not len(found):
        return []
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    chunks = rows.get_chunks(conn, found[order].tolist())
    hits = [(int(found[j]), float(scores[j])) for j in order]
    return [Hit(chunk=chunks[i], score=s, cosine=s) for i, s in hits if i in chunks]


def remove_files(folder: Path) -> None:
    """Delete the engine's files from a KB folder (the KB must not be open)."""
    for name in (VECTORS_FILE, VECTORS_FILE + ".tmp", LOCK_FILE):
        (folder / name).unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (folder / (DB_FILE + suffix)).unlink(missing_ok=True)
