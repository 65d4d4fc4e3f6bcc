"""Ingest jobs: load, hash, chunk, embed and write documents; skip what did not change.

Sync semantics: a document whose content hash is unchanged costs no embedding; a changed one is
replaced whole; with `sync`, documents that came from the given paths and are gone from them are
deleted. Writes go to the store in batches, each all-or-nothing, and the store is flushed every
few batches, so a killed ingest loses at most the batches since the last write and a re-run
picks up exactly the documents that are not stored yet.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from indexer.chunking import chunk_document, embedding_text
from indexer.loaders import LoadFailure, iter_documents
from rag.config import Settings
from rag.embedding.base import Embedder
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


def content_hash(doc: Document, config: KBConfig) -> str:
    """Hash of everything that shapes a document's chunks and vectors."""
    payload = json.dumps(
        [
            doc.title,
            [[s.text, s.page, list(s.heading_path)] for s in doc.sections],
            doc.metadata,
            config.chunk_tokens,
            config.chunk_overlap,
            config.embedder,
        ],
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
    ) -> IngestResult:
        """Ingest files and folders; with `sync`, delete what vanished from them."""
        docs: list[Document] = []
        failures: list[LoadFailure] = []
        for item in iter_documents(paths, include, exclude):
            (failures if isinstance(item, LoadFailure) else docs).append(item)  # type: ignore[arg-type]
        result = self.ingest_documents(docs, progress=progress)
        result.failures = failures + result.failures
        if sync:
            result.deleted = self._sync_delete(paths, {d.id for d in docs}, failures)
        return result

    def ingest_documents(self, docs: Iterable[Document], progress: bool = True) -> IngestResult:
        """Write new and changed documents; unchanged ones are only counted."""
        started = time.monotonic()
        result = IngestResult()
        stored = {d.id: d.content_hash for d in self.store.documents()}
        pending: list[tuple[StoredDocument, list[Chunk]]] = []
        for doc in docs:
            digest = content_hash(doc, self.config)
            if stored.get(doc.id) == digest:
                result.unchanged += 1
                continue
            if doc.id in stored:
                result.updated += 1
            else:
                result.added += 1
            chunks = chunk_document(
                doc, self.embedder.tokenizer, self.config.chunk_tokens, self.config.chunk_overlap
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
        total = sum(len(c) for _, c in pending)
        with tqdm(total=total, unit="chunk", desc="embedding", disable=not progress) as bar:
            self._write_all(pending, bar.update)
        result.chunks = total
        result.seconds = time.monotonic() - started
        return result

    def _write_all(
        self, pending: list[tuple[StoredDocument, list[Chunk]]], advance: Callable[[int], object]
    ) -> None:
        last_flush = time.monotonic()
        batch: list[tuple[StoredDocument, list[Chunk]]] = []
        size = 0
        for item in pending:
            batch.append(item)
            size += len(item[1])
            if size >= self.batch_chunks:
                self._write_batch(batch)
                advance(size)
                batch, size = [], 0
                if time.monotonic() - last_flush >= self.flush_seconds:
                    self.store.flush()
                    last_flush = time.monotonic()
        if batch:
            self._write_batch(batch)
            advance(size)
        self.store.flush()

    def _write_batch(self, batch: list[tuple[StoredDocument, list[Chunk]]]) -> None:
        texts = [embedding_text(c.title, c.text) for _, chunks in batch for c in chunks]
        vectors = self.embedder.embed(texts)
        writes, start = [], 0
        for meta, chunks in batch:
            writes.append(DocumentWrite(meta, chunks, vectors[start : start + len(chunks)]))
            start += len(chunks)
        self.store.write(writes)

    def _sync_delete(
        self, paths: Sequence[Path], seen: set[str], failures: Sequence[LoadFailure]
    ) -> int:
        """Delete stored documents that came from `paths` and were not seen in this run.

        A document whose source file failed to load is kept: a parse error must never
        delete what is already stored.
        """
        roots = [p.resolve() for p in paths]
        failed = {_failure_source(f) for f in failures}
        gone = [
            d.id
            for d in self.store.documents()
            if d.id not in seen
            and d.source
            and _under(Path(d.source), roots)
            and Path(d.source) not in failed
        ]
        if gone:
            self.store.delete(gone)
            self.store.flush()
        return len(gone)


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _failure_source(failure: LoadFailure) -> Path:
    # Per-line failures read "file.jsonl:17"; the file is what matters for sync.
    raw = failure.path
    head, _, tail = raw.rpartition(":")
    candidate = Path(head) if head and tail.isdigit() else Path(raw)
    return candidate.resolve()
