"""Row access for the embedded engine: documents, chunks with their vectors, FTS5 search.

Plain functions over a connection; transactions and locking belong to the caller (the store).
Chunk ids (`chunks.id`) are the FAISS ids; sets of them travel as int64 numpy arrays.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.embedding.base import Vectors
from rag.errors import InvalidInputError
from rag.stores.base import Filters
from rag.stores.local.filters import filter_sql
from rag.types import Chunk, StoredDocument

Ids = npt.NDArray[np.int64]

_CHUNK_FIELDS = "chunk_id, doc_id, position, page, heading_path, title, text, metadata"
_DOC_COLUMNS = "doc_id, content_hash, title, source, metadata, chunk_count"


def put_document(conn: sqlite3.Connection, doc: StoredDocument, chunk_count: int) -> None:
    """Insert or overwrite the document row (its chunks are written separately)."""
    conn.execute(
        f"INSERT OR REPLACE INTO documents ({_DOC_COLUMNS}, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            doc.id,
            doc.content_hash,
            doc.title,
            doc.source,
            _json(doc.metadata, f"metadata of document {doc.id!r}"),
            chunk_count,
            datetime.now(UTC).isoformat(),
        ),
    )


def delete_document(conn: sqlite3.Connection, doc_id: str) -> tuple[bool, Ids]:
    """Delete a document and its chunks; returns whether it existed and the removed chunk ids."""
    ids = _ids(conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,)))
    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))  # a trigger updates FTS
    existed = conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount > 0
    return existed, ids


def insert_chunks(conn: sqlite3.Connection, chunks: Sequence[Chunk], vectors: Vectors) -> Ids:
    """Insert chunks with their vectors; returns the new chunk ids in input order."""
    ids = np.empty(len(chunks), dtype=np.int64)
    for row, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
        try:
            (ids[row],) = conn.execute(
                f"INSERT INTO chunks ({_CHUNK_FIELDS}, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    chunk.id,
                    chunk.doc_id,
                    chunk.position,
                    chunk.page,
                    json.dumps(list(chunk.heading_path), ensure_ascii=False),
                    chunk.title,
                    chunk.text,
                    _json(chunk.metadata, f"metadata of chunk {chunk.id!r}"),
                    np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                ),
            ).fetchone()
        except sqlite3.IntegrityError as exc:
            raise InvalidInputError(
                f"chunk id {chunk.id!r} of document {chunk.doc_id!r} is already stored "
                "for another document"
            ) from exc
    return ids


def all_chunk_ids(conn: sqlite3.Connection) -> Ids:
    """Every stored chunk id, sorted (a scan of a covering index, not of the rows)."""
    return np.sort(_ids(conn.execute("SELECT id FROM chunks")))


def max_chunk_id(conn: sqlite3.Connection) -> int:
    """The highest chunk id ever handed out (AUTOINCREMENT's counter), 0 if none."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
    return 0 if row is None else int(row[0])


def reserve_chunk_ids(conn: sqlite3.Connection, up_to: int) -> None:
    """Make sure no chunk id at or below `up_to` is ever handed out again."""
    if max_chunk_id(conn) >= up_to:
        return
    if conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'chunks'", (up_to,)).rowcount:
        return
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('chunks', ?)", (up_to,))


def vectors_of(conn: sqlite3.Connection, ids: Ids, dim: int) -> tuple[Ids, Vectors]:
    """The stored vectors of `ids` (those that exist), as (ids, matrix)."""
    rows = conn.execute(
        "SELECT id, vector FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids.tolist()),),
    ).fetchall()
    return _matrix(rows, dim)


def vectors_by_chunk_id(
    conn: sqlite3.Connection, chunk_ids: Sequence[str], dim: int
) -> tuple[list[str], Vectors]:
    """The stored vectors of the chunks named by `chunk_ids` (those that exist)."""
    rows = conn.execute(
        "SELECT chunk_id, vector FROM chunks WHERE chunk_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(chunk_ids)),),
    ).fetchall()
    return [r[0] for r in rows], _stacked(rows, dim)


def iter_vectors(
    conn: sqlite3.Connection, dim: int, batch: int = 20_000
) -> Iterator[tuple[Ids, Vectors]]:
    """Every stored vector in id order, a batch at a time (keyset paging: no OFFSET rescans)."""
    last = -1
    while True:
        rows = conn.execute(
            "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
        ).fetchall()
        if not rows:
            return
        last = int(rows[-1][0])
        yield _matrix(rows, dim)


def matching_chunk_ids(conn: sqlite3.Connection, filters: Filters) -> Ids:
    """Ids of the chunks whose metadata matches every filter."""
    where, params = filter_sql(filters, "metadata")
    return np.sort(_ids(conn.execute(f"SELECT id FROM chunks WHERE {where}", params)))


def matching_doc_ids(conn: sqlite3.Connection, filters: Filters) -> list[str]:
    """Ids of the documents whose metadata matches every filter."""
    where, params = filter_sql(filters, "metadata")
    return [r[0] for r in conn.execute(f"SELECT doc_id FROM documents WHERE {where}", params)]


def bm25(
    conn: sqlite3.Connection, match: str, k: int, filters: Filters | None
) -> list[tuple[int, float]]:
    """The k best (chunk id, score) for an FTS5 expression, filtered in the same query."""
    where, params = filter_sql(filters or {}, "c.metadata")
    # bm25() is lower-is-better; negate it so that a higher score is better in every mode.
    rows = conn.execute(
        "SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts "
        "JOIN chunks AS c ON c.id = chunks_fts.rowid "
        f"WHERE chunks_fts MATCH ? AND {where} ORDER BY bm25(chunks_fts) LIMIT ?",
        [match, *params, k],
    ).fetchall()
    return [(int(i), float(s)) for i, s in rows]


def get_chunks(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, Chunk]:
    """The chunks of `ids` that exist, keyed by chunk id."""
    rows = conn.execute(
        f"SELECT id, {_CHUNK_FIELDS} FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    ).fetchall()
    return {int(r[0]): _chunk(r) for r in rows}


def documents(conn: sqlite3.Connection, offset: int, limit: int | None) -> list[StoredDocument]:
    """Stored documents ordered by id."""
    rows = conn.execute(
        f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY doc_id LIMIT ? OFFSET ?",
        (-1 if limit is None else limit, offset),
    )
    return [_document(r) for r in rows]


def get_document(conn: sqlite3.Connection, doc_id: str) -> StoredDocument | None:
    """One stored document, or None."""
    row = conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,))
    found = row.fetchone()
    return None if found is None else _document(found)


def counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(documents, chunks) stored."""
    docs = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    return int(docs), int(chunks)


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(
        id=row[1],
        doc_id=row[2],
        position=row[3],
        page=row[4],
        heading_path=tuple(json.loads(row[5])),
        title=row[6],
        text=row[7],
        metadata=json.loads(row[8]),
    )


def _document(row: Sequence[Any]) -> StoredDocument:
    return StoredDocument(
        id=row[0],
        content_hash=row[1],
        title=row[2],
        source=row[3],
        metadata=json.loads(row[4]),
        chunk_count=row[5],
    )


def _matrix(rows: Sequence[Sequence[Any]], dim: int) -> tuple[Ids, Vectors]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, _stacked(rows, dim)


def _stacked(rows: Sequence[Sequence[Any]], dim: int) -> Vectors:
    """The vector blobs of (key, vector) rows as one matrix."""
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    return matrix.reshape(len(rows), dim)


def _ids(cursor: sqlite3.Cursor) -> Ids:
    return np.fromiter((r[0] for r in cursor), dtype=np.int64)


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not plain JSON: {exc}") from exc
