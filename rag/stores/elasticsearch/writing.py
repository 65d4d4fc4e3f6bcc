"""Replacing and removing documents in one index, safely without transactions.

The record of a document is its commit marker:
- write: record marked incomplete (empty hash) -> chunks -> stale chunks deleted -> record
  complete. A crash anywhere leaves a record whose hash differs from the source's, so the next
  sync rewrites the document (or deletes it, if its source is gone).
- delete: chunks first, record last. A crash in between leaves a record with no chunks, which
  sync deletes again; the other order would leave chunks that no record leads to.
Stale chunks are found by a token stamped on every chunk of a write, not by counting, so a
replace is right whatever an earlier, interrupted write left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from rag.embedding.base import Vectors
from rag.errors import StoreError
from rag.stores.base import DocumentWrite
from rag.stores.elasticsearch import bulk, codec

Checked = tuple[DocumentWrite, Vectors]  # a write with its validated vectors


class IndexWriter:
    """Writes and deletes documents in one index or alias; searchable when a call returns."""

    def __init__(
        self, client: Elasticsearch, index: str, options: bulk.BulkOptions, *, via_alias: bool
    ) -> None:
        self._client = client
        self._index = index
        self._options = options
        # Writing to a missing alias would auto-create a plain index of that name with a
        # guessed mapping; require_alias makes that an error instead.
        self._params = {"require_alias": True} if via_alias else {}

    def write(self, writes: Sequence[Checked]) -> dict[str, str]:
        """Replace each document; returns {doc_id: reason} for those not written."""
        token = uuid.uuid4().hex
        # A document whose record could not be marked is left exactly as it was.
        failed = self._send(self._records(writes, complete=False))
        marked = [(w, v) for w, v in writes if w.document.id not in failed]
        broken = self._send(self._chunks(marked, token))
        # delete_by_query only sees what a refresh has published.
        self.refresh()
        good = [w for w, _ in marked if w.document.id not in broken]
        self._delete_chunks([w.document.id for w in good], keep_token=token)
        # Half a document is worse than none: its incomplete record makes the next sync
        # write it again.
        self._delete_chunks(list(broken))
        failed |= broken | self._send(self._records([(w, None) for w in good], complete=True))
        self.refresh()
        return failed

    def delete(self, doc_ids: list[str]) -> int:
        """Remove documents with their chunks; returns how many records existed."""
        self.refresh()
        self._delete_chunks(doc_ids)
        return self._delete_by_query(
            {"bool": {"filter": [{"term": {"kind": codec.DOC}}, _ids(doc_ids)]}}
        )

    def refresh(self) -> None:
        """Publish every completed change to searches."""
        self._client.indices.refresh(index=self._index)

    def _send(self, actions: Iterator[tuple[str, bulk.Action]]) -> dict[str, str]:
        return bulk.send(self._client, actions, self._options, **self._params)

    def _records(
        self, writes: Sequence[tuple[DocumentWrite, Vectors | None]], *, complete: bool
    ) -> Iterator[tuple[str, bulk.Action]]:
        for w, _ in writes:
            doc = w.document
            source = codec.record_source(doc, len(w.chunks), complete=complete)
            yield doc.id, {"_index": self._index, "_id": codec.record_id(doc.id), **source}

    def _chunks(self, writes: Sequence[Checked], token: str) -> Iterator[tuple[str, bulk.Action]]:
        for w, vectors in writes:
            doc_id = w.document.id
            for i, (chunk, vector) in enumerate(zip(w.chunks, vectors, strict=True)):
                source = codec.chunk_source(chunk, vector, token)
                yield doc_id, {"_index": self._index, "_id": codec.chunk_id(doc_id, i), **source}

    def _delete_chunks(self, doc_ids: list[str], keep_token: str | None = None) -> None:
        if not doc_ids:
            return
        query: dict[str, Any] = {
            "bool": {"filter": [{"term": {"kind": codec.CHUNK}}, _ids(doc_ids)]}
        }
        if keep_token is not None:
            query["bool"]["must_not"] = [{"term": {"write_token": keep_token}}]
        self._delete_by_query(query)

    def _delete_by_query(self, query: dict[str, Any]) -> int:
        # conflicts=proceed: an entry rewritten since the last refresh is newer than the
        # snapshot the query saw, and must stay.
        result = self._client.delete_by_query(
            index=self._index, query=query, conflicts="proceed", refresh=True
        )
        if result.get("failures"):
            raise StoreError(f"delete in {self._index} failed: {result['failures'][:3]}")
        return int(result["deleted"])


def _ids(doc_ids: list[str]) -> dict[str, Any]:
    return {"terms": {"doc_id": doc_ids}}
