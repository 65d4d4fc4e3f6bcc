"""Ingest jobs: load, hash, chunk, embed and write documents; skip what did not change.

Sync semantics (`Ingestor.sync`, which `rag ingest` and the HTTP API's jobs both run): a
document whose content hash is unchanged costs no embedding; a changed one is replaced whole;
the stored documents the caller's `SyncScope` covers that the run did not see are deleted, never
one whose source failed to load (see `indexer.sync`); a cancelled run deletes nothing. Writes
go to the store in batches, each all-or-nothing, and the store is flushed every few batches, so
a killed ingest loses at most the batches since the last write and a re-run picks up exactly
the documents that are not stored yet.

An optional `IngestObserver` sees progress stage by stage (the HTTP API's jobs report it) and
can stop a run: `cancelled()` is asked before each document is chunked and after each batch is
written; when it says yes the store is flushed and `IngestCancelled` is raised, carrying the
counts so far. Every document written before the stop is whole and durable, so running the
same input again finishes the work without redoing it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from indexer.chunking import chunk_document
from indexer.loaders import LoadFailure, iter_documents
from indexer.sync import SyncScope, UnderPaths, vanished
from rag.config import Settings
from rag.embedding.base import Embedder, embedding_text
from rag.kb import KBConfig
from rag.stores.base import DocumentWrite, Store
from rag.types import Chunk, Document, StoredDocument
from rag.workspace import OpenKB


@dataclass
class IngestResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks: int = 0
    failures: list[LoadFailure] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deleted} deleted, {self.chunks} chunks embedded, "
            f"{len(self.failures)} failed, {self.seconds:.1f}s"
        )


class IngestObserver(Protocol):
    """Progress of one ingest run, stage by stage; called on the ingesting thread."""

    def parsed(self, docs: int, seconds: float) -> None:
        """`docs` documents were loaded, hashed and (when changed) chunked in `seconds`."""
        ...

    def chunked(self, docs: int, chunks: int) -> None:
        """`docs` new or changed documents were cut into `chunks` chunks."""
        ...

    def embedded(self, chunks: int, seconds: float) -> None:
        """`chunks` chunks were embedded in `seconds`."""
        ...

    def indexed(self, chunks: int, seconds: float) -> None:
        """`chunks` chunks were written to the store (and maybe flushed) in `seconds`."""
        ...

    def cancelled(self) -> bool:
        """Whether the run should stop at the next safe point."""
        ...


class _Unobserved:
    """The observer of a run nobody watches: no reports, never cancelled."""

    def parsed(self, docs: int, seconds: float) -> None:
        pass

    def chunked(self, docs: int, chunks: int) -> None:
        pass

    def embedded(self, chunks: int, seconds: float) -> None:
        pass

    def indexed(self, chunks: int, seconds: float) -> None:
        pass

    def cancelled(self) -> bool:
        return False


class IngestCancelled(Exception):
    """The observer stopped the run; everything written before the stop is flushed."""

    def __init__(self, result: IngestResult) -> None:
        super().__init__("ingest cancelled")
        self.result = result  # counts up to the stop


def content_hash(doc: Document, config: KBConfig) -> str:
    """Hash of everything that shapes a document's chunks and vectors."""
    shape = [
        doc.title,
        [[s.text, s.page, list(s.heading_path)] for s in doc.sections],
        doc.metadata,
        config.chunk_tokens,
        config.chunk_overlap,
        config.embedder,
    ]
    # Only when on: documents of KBs made before chunk headers keep their hashes.
    if config.chunk_headers:
        shape.append("chunk-headers")
    payload = json.dumps(
        shape,
        sort_keys=True,
        default=str,
    )
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


class Ingestor:
    """Runs ingest jobs of one KB: its store, its embedder, its chunking settings."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: KBConfig,
        batch_chunks: int = 512,
        flush_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.batch_chunks = batch_chunks  # chunks per embed call and per store write
        self.flush_seconds = flush_seconds  # the most wall time of work a crash can cost

    @classmethod
    def for_kb(cls, kb: OpenKB, settings: Settings) -> Ingestor:
        """An ingestor for an opened KB with the batch and flush settings."""
        return cls(
            kb.store,
            kb.embedder,
            kb.config,
            settings.ingest_batch_chunks,
            settings.ingest_flush_seconds,
        )

    def ingest_paths(
        self,
        paths: Sequence[Path],
        *,
        sync: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: bool = True,
        observer: IngestObserver | None = None,
    ) -> IngestResult:
        """Ingest files and folders; with `sync`, delete what vanished from them."""
        items = iter_documents(paths, include, exclude)
        scope = UnderPaths(paths) if sync else None
        return self.sync(items, scope, progress=progress, observer=observer)

    def sync(
        self,
        items: Iterable[Document | LoadFailure],
        scope: SyncScope | None,
        *,
        progress: bool = True,
        observer: IngestObserver | None = None,
    ) -> IngestResult:
        """Skip unchanged, replace changed, delete what vanished from the sources `scope` covers.

        `scope` None deletes nothing. Failures are collected in the result (and in the
        `IngestCancelled` the observer may cause, which deletes nothing either).
        """
        seen: set[str] = set()
        failures: list[LoadFailure] = []

        def loaded() -> Iterator[Document]:
            # Lazy, so an observer's parse time covers the loaders.
            for item in items:
                if isinstance(item, LoadFailure):
                    failures.append(item)
                else:
                    seen.add(item.id)
                    yield item

        try:
            result = self.ingest_documents(loaded(), progress=progress, observer=observer)
        except IngestCancelled as stop:
            stop.result.failures = failures + stop.result.failures
            raise
        result.failures = failures + result.failures
        if scope is not None:
            gone = vanished(self.store.documents(), seen, failures, scope)
            if gone:
                self.store.delete(gone)
                self.store.flush()
            result.deleted = len(gone)
        return result

    def ingest_documents(
        self,
        docs: Iterable[Document],
        progress: bool = True,
        observer: IngestObserver | None = None,
    ) -> IngestResult:
        """Write new and changed documents; unchanged ones are only counted.

        Raises `IngestCancelled` when the observer asks to stop (see the module docstring).
        """
        watch = observer or _Unobserved()
        started = time.monotonic()
        result = IngestResult()
        pending = self._plan(docs, result, watch)
        total = sum(len(c) for _, c in pending)
        with tqdm(total=total, unit="chunk", desc="embedding", disable=not progress) as bar:

            def advance(n: int) -> None:
                bar.update(n)
                result.chunks += n

            finished = self._write_all(pending, advance, watch)
        result.seconds = time.monotonic() - started
        if not finished:
            raise IngestCancelled(result)
        return result

    def _plan(
        self, docs: Iterable[Document], result: IngestResult, watch: IngestObserver
    ) -> list[tuple[StoredDocument, list[Chunk]]]:
        """Hash every document and chunk the new and changed ones; nothing is written yet."""
        stored = {d.id: d.content_hash for d in self.store.documents()}
        pending: list[tuple[StoredDocument, list[Chunk]]] = []
        source = iter(docs)
        while True:
            if watch.cancelled():  # nothing written yet: stopping here costs nothing
                raise IngestCancelled(result)
            began = time.monotonic()
            doc = next(source, None)
            if doc is None:
                return pending
            digest = content_hash(doc, self.config)
            if stored.get(doc.id) == digest:
                result.unchanged += 1
                watch.parsed(1, time.monotonic() - began)
                continue
            if doc.id in stored:
                result.updated += 1
            else:
                result.added += 1
            chunks = chunk_document(
                doc,
                self.embedder.tokenizer,
                self.config.chunk_tokens,
                self.config.chunk_overlap,
                headers=self.config.chunk_headers,
            )
            meta = StoredDocument(
                id=doc.id,
                content_hash=digest,
                title=doc.title,
                source=doc.source,
                metadata=doc.metadata,
                chunk_count=len(chunks),
            )
            pending.append((meta, chunks))
            stored[doc.id] = digest  # a repeated id in one run is written once
            watch.parsed(1, time.monotonic() - began)
            watch.chunked(1, len(chunks))

    def _write_all(
        self,
        pending: list[tuple[StoredDocument, list[Chunk]]],
        advance: Callable[[int], object],
        watch: IngestObserver,
    ) -> bool:
        """Write in batches; False when the observer stopped the run (after a flush)."""
        last_flush = time.monotonic()
        batch: list[tuple[StoredDocument, list[Chunk]]] = []
        size = 0
        for item in pending:
            batch.append(item)
            size += len(item[1])
            if size >= self.batch_chunks:
                self._write_batch(batch, watch)
                advance(size)
                batch, size = [], 0
                if watch.cancelled():
                    self._flush(watch)
                    return False
                if time.monotonic() - last_flush >= self.flush_seconds:
                    self._flush(watch)
                    last_flush = time.monotonic()
        if batch:
            self._write_batch(batch, watch)
            advance(size)
        self._flush(watch)
        return True

    def _flush(self, watch: IngestObserver) -> None:
        began = time.monotonic()
        self.store.flush()
        watch.indexed(0, time.monotonic() - began)

    def _write_batch(
        self, batch: list[tuple[StoredDocument, list[Chunk]]], watch: IngestObserver
    ) -> None:
        texts = [embedding_text(c.title, c.text) for _, chunks in batch for c in chunks]
        began = time.monotonic()
        vectors = self.embedder.embed(texts)
        embedded = time.monotonic()
        watch.embedded(len(texts), embedded - began)
        writes, start = [], 0
        for meta, chunks in batch:
            writes.append(DocumentWrite(meta, chunks, vectors[start : start + len(chunks)]))
            start += len(chunks)
        self.store.write(writes)
        watch.indexed(len(texts), time.monotonic() - embedded)
