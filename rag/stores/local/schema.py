"""The SQLite side of the embedded engine: DDL, connection settings, the `meta` table.

SQLite is the source of truth. Chunk rows carry their vectors, so the FAISS file next to the
database is a derived index that can always be repaired or rebuilt from here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import StoreError

SCHEMA_VERSION = "1"

# AUTOINCREMENT, not a plain rowid: a chunk id is also its FAISS id, and a plain rowid may be
# reused after the highest row is deleted. A stale vector still in a saved FAISS file (or kept
# as an HNSW tombstone) would then answer for a different chunk.
_DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    metadata TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents (doc_id),
    position INTEGER NOT NULL,
    page INTEGER,
    heading_path TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks (doc_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    title, text, content = 'chunks', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the KB database with the engine's pragmas and schema."""
    # Autocommit mode: transactions are opened explicitly by `transaction()`.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
        conn.close()
        raise StoreError(f"cannot open {path} as a knowledge base database: {exc}") from exc
    # FULL, not NORMAL: in WAL mode it costs one fsync per commit (one per write batch, noise
    # next to embedding it), and a commit then survives power loss too. The ingest trusts a
    # committed document as done, and FAISS only ever holds ids that were committed here.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        # One transaction, so a crash while creating a KB leaves either no schema or all of it.
        conn.executescript(f"BEGIN IMMEDIATE;{_DDL}COMMIT;")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot open {path} as a knowledge base database: {exc}") from exc
    version = get_meta(conn, "schema_version")
    if version is None:
        set_meta(conn, "schema_version", SCHEMA_VERSION)
    elif version != SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{path} has schema version {version}; this engine reads {SCHEMA_VERSION}")
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing KB database, for one reading thread."""
    # WAL mode (set by `connect`, persistent in the file) lets these read while a writer
    # commits: each statement sees the last commit before it started.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    # Pages through a shared memory map instead of a private page cache per connection: with
    # one connection per reading thread, private caches each read and hold the same pages.
    conn.execute("PRAGMA mmap_size = 268435456")
    return conn


def generation(conn: sqlite3.Connection) -> int:
    """How many write transactions have changed documents in this KB, from any process."""
    value = get_meta(conn, "generation")
    return 0 if value is None else int(value)


def bump_generation(conn: sqlite3.Connection) -> int:
    """Count one more document-changing write (call inside its transaction); the new count."""
    value = generation(conn) + 1
    set_meta(conn, "generation", str(value))
    return value


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction: committed whole or rolled back whole."""
    # IMMEDIATE takes the write lock up front: a second writer waits (busy timeout) and then
    # fails here, never halfway through on a read-to-write lock upgrade.
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise StoreError(f"the KB database is busy (another process writing?): {exc}") from exc
    try:
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"the KB database failed: {exc}") from exc
        raise


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """The value stored under `key` in `meta`, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store `value` under `key` in `meta` (autocommits unless inside `transaction`)."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
