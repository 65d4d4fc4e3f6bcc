"""The scale-out engine: one KB is one Elasticsearch index (behind an alias) of chunks and records.

Writes are atomic per document, not per call: Elasticsearch has no transactions. A document
that fails is named in a `StoreError` and left for the next sync to repair (see `writing`).
Searches filter on `kind`, so document records never come back as hits. The store caches
nothing but "the index exists", so several processes may share a KB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
from elasticsearch import Elasticsearch, NotFoundError

from rag.embedding.base import Vectors
from rag.errors import ConfigError, InvalidInputError, RagError, StoreError
from rag.stores import checks
from rag.stores.base import DocumentWrite, Filters
from rag.stores.elasticsearch import bulk, codec, generations, queries, writing
from rag.stores.elasticsearch.client import backend_errors
from rag.stores.elasticsearch.mapping import VectorIndex, index_body
from rag.types import Hit, KBStats, StoredDocument

# Page size when walking every record in id order (`from` stops at 10 000 hits).
_PAGE = 1000
_NAMED_FAILURES = 10
_T = TypeVar("_T")


class ElasticsearchStore:
    """The `Store` of one KB on an Elasticsearch cluster."""

    def __init__(
        self,
        client: Elasticsearch,
        kb_name: str,
        dim: int,
        prefix: str = "rag-",
        vector_index: VectorIndex = "hnsw",
        *,
        num_candidates_factor: int = 10,
        shards: int = 1,
        replicas: int = 0,
        bulk_options: bulk.BulkOptions = bulk.BulkOptions(),
        target: str | None = None,
        close_client: bool = False,
    ) -> None:
        """`target` names a physical index to use instead of the alias (a rebuild's)."""
        if dim < 1:
            raise ConfigError(f"vector dimension must be positive, got {dim}")
        if vector_index not in ("hnsw", "int8_hnsw"):
            raise ConfigError(f"unknown vector index {vector_index!r}: use hnsw or int8_hnsw")
        if num_candidates_factor < 1:
            raise ConfigError("num_candidates_factor must be at least 1")
        self.alias = generations.alias_name(prefix, kb_name)
        self.dim = dim
        self._client = client
        self._body = index_body(dim, vector_index, shards=shards, replicas=replicas)
        self._factor = num_candidates_factor
        self._bulk = bulk_options
        self._target = target or self.alias
        self._close_client = close_client
        self._ready = False
        self._closed = False
        self._kb_name = kb_name
        self._prefix = prefix
        self._vector_index: VectorIndex = vector_index
        self._shards = shards
        self._replicas = replicas

    @property
    def index(self) -> str:
        """What reads and writes go to: the alias, or a rebuild's physical index."""
        return self._target

    # -- writes -------------------------------------------------------------------------------

    def write(self, batch: Sequence[DocumentWrite]) -> None:
        """Insert or replace each document; failed documents are named in one StoreError."""
        self._check_open()
        # A document given twice in one batch: the last one wins, as with sequential writes.
        writes = list({w.document.id: w for w in batch}.values())
        vectors = [checks.write_vectors(w, self.dim) for w in writes]
        if not writes:
            return
        with backend_errors(f"writing {len(writes)} documents to {self._target}"):
            self._ensure_index()
            failed = self._writer().write(list(zip(writes, vectors, strict=True)))
        if failed:
            raise StoreError(_failure_message(failed, len(writes)))

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents by id; returns how many existed."""
        self._check_open()
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return 0
        with backend_errors(f"deleting {len(ids)} documents from {self._target}"):
            try:
                return self._writer().delete(ids)
            except NotFoundError:
                return 0

    def delete_where(self, filters: Filters) -> int:
        """Remove every document whose metadata matches; returns how many."""
        if not filters:
            raise InvalidInputError("delete_where needs at least one filter")
        query = {"bool": {"filter": queries.filter_clauses(filters, kind=codec.DOC)}}
        return self.delete([d.id for d in self._records_matching(query)])

    def create_generation(self) -> ElasticsearchStore:
        """A store over a new, empty physical index; searches use the old one until swap_alias."""
        self._check_open()
        with backend_errors(f"creating a new index for {self.alias}"):
            name = generations.create_next(self._client, self.alias, self._body, aliased=False)
        return ElasticsearchStore(
            self._client,
            self._kb_name,
            self.dim,
            self._prefix,
            self._vector_index,
            num_candidates_factor=self._factor,
            shards=self._shards,
            replicas=self._replicas,
            bulk_options=self._bulk,
            target=name,
        )

    def swap_alias(self) -> None:
        """Point the alias at this store's new index in one call, then delete the old ones."""
        self._check_open()
        if self._target == self.alias:
            raise StoreError("swap_alias() belongs to a store made by create_generation()")
        with backend_errors(f"moving alias {self.alias} to {self._target}"):
            self._writer().refresh()
            old = generations.swap(self._client, self.alias, self._target)
            # From here on this store is the live KB, even if deleting the old index fails.
            self._target = self.alias
            generations.delete(self._client, old)

    def rebuild(self, batches: Iterable[Sequence[DocumentWrite]]) -> None:
        """Write every batch into a new generation, then swap it in; on failure drop it."""

        def write_all(fresh: ElasticsearchStore) -> None:
            for batch in batches:
                fresh.write(batch)

        self._replace_with(write_all)

    def reindex(self) -> int:
        """Copy the KB into a new generation with the current mapping, then swap it in.

        The upgrade path for a mapping change (analysis, not the vector dimension): the server
        re-analyses the stored text and keeps the stored vectors, so nothing is embedded again.
        Searches see the old index until the swap. Writes made during the copy are not carried
        over: run it while nothing ingests into the KB. Returns how many entries were copied.
        """
        self._check_open()
        with backend_errors(f"looking up {self.alias}"):
            if not generations.aliased_indices(self._client, self.alias):
                return 0  # nothing written yet: the first write uses the current mapping

        def copy_live(fresh: ElasticsearchStore) -> int:
            with backend_errors(f"copying {self.alias} into {fresh.index}"):
                return generations.copy(self._client, self.alias, fresh.index)

        return self._replace_with(copy_live)

    def drop(self) -> None:
        """Delete every physical index of the KB, and with them its alias."""
        self._check_open()
        with backend_errors(f"dropping the indices of {self.alias}"):
            generations.delete(self._client, generations.physical_indices(self._client, self.alias))
        self._ready = False

    # -- reads --------------------------------------------------------------------------------

    def documents(self, offset: int = 0, limit: int | None = None) -> list[StoredDocument]:
        """Stored documents ordered by id."""
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidInputError("offset and limit must not be negative")
        out: list[StoredDocument] = []
        if limit == 0:
            return out
        for i, doc in enumerate(self._records_matching({"term": {"kind": codec.DOC}})):
            if i >= offset:
                out.append(doc)
                if len(out) == limit:
                    break
        return out

    def get_document(self, doc_id: str) -> StoredDocument | None:
        """One stored document, or None."""
        self._check_open()
        with backend_errors(f"reading document {doc_id!r} from {self._target}"):
            try:
                found = self._client.get(index=self._target, id=codec.record_id(doc_id))
            except NotFoundError:
                return None
        return codec.stored_document(found["_source"])

    def search_dense(self, vector: Vectors, k: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest chunks by cosine similarity, best first; the filter applies inside kNN."""
        query = checks.query_vector(vector, self.dim)
        checks.check_k(k, queries.MAX_CANDIDATES)
        knn = queries.knn_query(query, k, self._factor, filters)
        hits = self._search(f"searching {self._target} by vector", knn=knn, size=k)
        scored = [(codec.chunk(h["_source"]), queries.cosine(h["_score"])) for h in hits]
        return [Hit(chunk=chunk, score=cos, cosine=cos) for chunk, cos in scored]

    def search_bm25(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """Best chunks by BM25 over title and text, best first."""
        checks.check_k(k, queries.MAX_CANDIDATES)
        body = queries.bm25_query(query, filters)
        hits = self._search(f"searching {self._target} by keywords", query=body, size=k)
        return [Hit(chunk=codec.chunk(h["_source"]), score=float(h["_score"])) for h in hits]

    def cosines(self, vector: Vectors, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Cosine of `vector` and each named chunk's stored vector (read, not searched)."""
        query = checks.query_vector(vector, self.dim)
        names = list(dict.fromkeys(chunk_ids))
        if not names:
            return {}
        if len(names) > queries.MAX_CANDIDATES:  # also the default max_result_window
            raise InvalidInputError(
                f"at most {queries.MAX_CANDIDATES} chunks per call, got {len(names)}"
            )
        self._check_open()
        with backend_errors(f"reading vectors of {len(names)} chunks from {self._target}"):
            try:
                found = self._client.search(
                    index=self._target,
                    query=queries.chunks_named(names),
                    source={"includes": ["chunk_id", "vector"]},
                    size=len(names),
                )["hits"]["hits"]
            except NotFoundError:
                return {}
        if not found:
            return {}
        stored = np.asarray([h["_source"]["vector"] for h in found], dtype=np.float32)
        # The index's similarity is `cosine`: kNN normalises both sides, so do the same here.
        norms = np.linalg.norm(stored, axis=1) * np.linalg.norm(query)
        scores = stored @ query / norms
        return {h["_source"]["chunk_id"]: float(s) for h, s in zip(found, scores, strict=True)}

    def stats(self) -> KBStats:
        """Document and chunk counts."""
        self._check_open()
        with backend_errors(f"counting {self._target}"):
            try:
                docs, chunks = (
                    self._client.count(index=self._target, query={"term": {"kind": kind}})["count"]
                    for kind in (codec.DOC, codec.CHUNK)
                )
            except NotFoundError:
                return KBStats(documents=0, chunks=0)
        return KBStats(documents=docs, chunks=chunks)

    # -- lifecycle ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Make every completed write searchable (writes already refresh; this is cheap)."""
        self._check_open()
        with backend_errors(f"refreshing {self._target}"), suppress(NotFoundError):
            self._writer().refresh()

    def close(self) -> None:
        """Flush, then stop answering; closes the client only if this store owns it."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._close_client:
                self._client.close()

    def __enter__(self) -> ElasticsearchStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _ensure_index(self) -> None:
        """Create the first generation behind the alias on first write; check the dimension."""
        if self._ready:
            return
        if self._target == self.alias and not generations.aliased_indices(self._client, self.alias):
            generations.create_next(self._client, self.alias, self._body, aliased=True)
        mapping = self._client.indices.get_mapping(index=self._target)
        for name, body in mapping.items():
            dims = body["mappings"]["properties"]["vector"]["dims"]
            if dims != self.dim:
                raise ConfigError(f"index {name} holds vectors of dim {dims}, not {self.dim}")
        self._ready = True

    def _replace_with(self, fill: Callable[[ElasticsearchStore], _T]) -> _T:
        """Fill a new generation, swap it in and return what `fill` did; on failure drop it."""
        fresh = self.create_generation()
        name = fresh.index
        try:
            result = fill(fresh)
            fresh.swap_alias()
        except BaseException:
            if fresh.index == self.alias:
                raise  # swapped in already: only the old index's removal failed
            # The rebuild's own error is the one to report; a failed cleanup leaves an
            # unaliased index that drop() still finds.
            with suppress(RagError), backend_errors(f"dropping the unfinished {name}"):
                generations.delete(self._client, [name])
            raise
        return result

    def _writer(self) -> writing.IndexWriter:
        via_alias = self._target == self.alias
        return writing.IndexWriter(self._client, self._target, self._bulk, via_alias=via_alias)

    def _records_matching(self, query: dict[str, Any]) -> Iterator[StoredDocument]:
        """Records matching `query` in id order, paged with search_after (no 10 000 cap)."""
        self._check_open()
        after: list[Any] | None = None
        while True:
            with backend_errors(f"listing documents of {self._target}"):
                try:
                    page = self._client.search(
                        index=self._target,
                        query=query,
                        sort=[{"doc_id": "asc"}],
                        size=_PAGE,
                        search_after=after,
                    )["hits"]["hits"]
                except NotFoundError:
                    return
            yield from (codec.stored_document(h["_source"]) for h in page)
            if len(page) < _PAGE:
                return
            after = page[-1]["sort"]

    def _search(self, action: str, **request: Any) -> list[dict[str, Any]]:
        self._check_open()
        with backend_errors(action):
            try:
                found = self._client.search(index=self._target, source=queries.SOURCE, **request)
            except NotFoundError:
                # The alias resolved to a generation that a swap deleted mid-search: once more
                # reaches the new one. Still missing means nothing was written to the KB yet.
                try:
                    found = self._client.search(
                        index=self._target, source=queries.SOURCE, **request
                    )
                except NotFoundError:
                    return []
        hits: list[dict[str, Any]] = found["hits"]["hits"]
        return hits

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store of {self.alias} is closed")


def _failure_message(failed: dict[str, str], total: int) -> str:
    # A blocked index fails every document of a batch: name a few, count the rest.
    shown = sorted(failed.items())[:_NAMED_FAILURES]
    named = "; ".join(f"{doc_id!r}: {why}" for doc_id, why in shown)
    more = f"; and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
    return f"{len(failed)} of {total} documents were not written: {named}{more}"
