"""Ingest jobs: load, hash, chunk, embed and write documents; skip what did not change.

Files are parsed in worker processes (`indexer.loaders.ParsePool`) and documents are chunked as
they arrive, a batch written as soon as it is full, so parsing the next files overlaps embedding
and writing the last ones.

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
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Protocol

from indexer.chunking import chunk_document
from indexer.loaders import FileParsed, LoadFailure, ParsePool, ParseSettings, iter_documents
from indexer.progress import ConsoleProgress
from indexer.settings import parse_settings
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


class Unobserved:
    """The observer of a run nobody watches (no reports, never cancelled); a base for others."""

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
        parse: ParseSettings | None = None,
        max_chunk_chars: int = 4000,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.batch_chunks = batch_chunks  # chunks per embed call and per store write
        self.flush_seconds = flush_seconds  # the most wall time of work a crash can cost
        self.parse = parse or ParseSettings()  # workers, timeout and limits of ingest_paths
        self.max_chunk_chars = max_chunk_chars

    @classmethod
    def for_kb(cls, kb: OpenKB, settings: Settings) -> Ingestor:
        """An ingestor for an opened KB with the batch and flush settings."""
        return cls(
            kb.store,
            kb.embedder,
            kb.config,
            settings.ingest_batch_chunks,
            settings.ingest_flush_seconds,
            parse_settings(settings),
            settings.chunk_max_chars,
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
        on_file: Callable[[FileParsed], None] | None = None,
        pool: ParsePool | None = None,
    ) -> IngestResult:
        """Ingest files and folders; with `sync`, delete what vanished from them.

        Files are parsed by `pool`, else by worker processes started for this call.
        """
        scope = UnderPaths(paths) if sync else None
        console = ConsoleProgress() if progress and observer is None else None
        watch = observer or console
        if console is not None and on_file is None:
            on_file = console.file_parsed
        try:
            with ParsePool(self.parse) if pool is None else nullcontext(pool) as parser:
                items = iter_documents(paths, include, exclude, parser, on_file)
                return self.sync(items, scope, progress=False, observer=watch)
        finally:
            if console is not None:
                console.close()

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

        Documents are chunked as they arrive and written a batch at a time, so the parse
        workers behind `docs` keep parsing while this thread embeds. Raises `IngestCancelled`
        when the observer asks to stop (see the module docstring).
        """
        console = ConsoleProgress() if progress and observer is None else None
        watch = observer or console or Unobserved()
        started = time.monotonic()
        result = IngestResult()
        run = _Run(self, watch, result)
        try:
            stored = {d.id: d.content_hash for d in self.store.documents()}
            for doc in _until_cancelled(docs, watch, run):
                began = time.monotonic()
                planned = self._plan(doc, stored, result)
                watch.parsed(1, time.monotonic() - began)
                if planned is not None:
                    watch.chunked(1, len(planned[1]))
                    run.add(planned)
            run.finish()
        finally:
            result.seconds = time.monotonic() - started
            if console is not None:
                console.close()
        return result

    def _plan(
        self, doc: Document, stored: dict[str, str], result: IngestResult
    ) -> tuple[StoredDocument, list[Chunk]] | None:
        """The document's row and chunks when it is new or changed; None when unchanged."""
        digest = content_hash(doc, self.config)
        if stored.get(doc.id) == digest:
            result.unchanged += 1
            return None
        if doc.id in stored:
            result.updated += 1
        else:
            result.added += 1
        chunks = chunk_document(
            doc,
            self.embedder.tokenizer,
            self.config.chunk_tokens,
            self.config.chunk_overlap,
            max_chars=self.max_chunk_chars,
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
        stored[doc.id] = digest  # a repeated id in one run is written once
        return meta, chunks

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


def _until_cancelled(
    docs: Iterable[Document], watch: IngestObserver, run: _Run
) -> Iterator[Document]:
    """The documents, asking the observer before each one; a stop flushes and raises."""
    source = iter(docs)
    while True:
        if watch.cancelled():
            run.stop()
        doc = next(source, None)
        if doc is None:
            return
        yield doc


class _Run:
    """The batch being filled and the write schedule of one `ingest_documents` call."""

    def __init__(self, ingestor: Ingestor, watch: IngestObserver, result: IngestResult) -> None:
        self.ingestor = ingestor
        self.watch = watch
        self.result = result
        self.batch: list[tuple[StoredDocument, list[Chunk]]] = []
        self.size = 0
        self.unflushed = False
        self.last_flush = time.monotonic()

    def add(self, planned: tuple[StoredDocument, list[Chunk]]) -> None:
        """Queue a document; a full batch is embedded and written at once."""
        self.batch.append(planned)
        self.size += len(planned[1])
        if self.size >= self.ingestor.batch_chunks:
            self._write()
            if self.watch.cancelled():
                self.stop()
            if time.monotonic() - self.last_flush >= self.ingestor.flush_seconds:
                self._flush()

    def finish(self) -> None:
        """Write what is left and make it durable."""
        if self.batch:
            self._write()
        self._flush()

    def stop(self) -> NoReturn:
        """Make what was written durable, then raise `IngestCancelled` (the batch is dropped)."""
        if self.unflushed:
            self._flush()
        raise IngestCancelled(self.result)

    def _write(self) -> None:
        self.ingestor._write_batch(self.batch, self.watch)
        self.result.chunks += self.size
        self.batch, self.size, self.unflushed = [], 0, True

    def _flush(self) -> None:
        self.ingestor._flush(self.watch)
        self.last_flush, self.unflushed = time.monotonic(), False
