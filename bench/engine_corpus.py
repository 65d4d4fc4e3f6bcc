"""The corpus both engines are benchmarked on: SciFact chunks and query vectors, embedded once.

The first N abstracts of `../shared/data/scifact` go through the real loader and chunker
(`iter_documents`, `chunk_document` with the default 200 tokens and 32 overlap), so the chunks
are exactly what `rag ingest` would store. Their `embedding_text` is embedded with the packaged
MiniLM in shards of 512, each saved as it finishes, so a killed build resumes; the SciFact test
claims are embedded too. Everything lives under `<cache>/engines/<key>/`, the key hashing the
corpus file and the settings, and `meta.json` is written last to mark the cache complete.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.paths import cache_dir, require_data
from evaluation.beir import load_beir
from indexer.chunking import chunk_document
from indexer.loaders import iter_documents
from rag.config import Settings
from rag.embedding import Embedder
from rag.embedding.base import embedding_text
from rag.stores.base import DocumentWrite
from rag.types import Chunk, Document, StoredDocument

F32 = npt.NDArray[np.float32]
SHARD = 512


@dataclass
class EngineCorpus:
    """Documents with their chunks and vectors, and the queries with theirs."""

    documents: list[StoredDocument]
    chunks: list[list[Chunk]]  # per document, in order
    vectors: F32  # one row per chunk, documents in order
    queries: list[str]
    query_vectors: F32
    meta: dict[str, object]

    def batches(self, chunks_per_batch: int) -> list[list[DocumentWrite]]:
        """`DocumentWrite`s grouped like the Ingestor's writes: whole documents, >= N chunks."""
        out: list[list[DocumentWrite]] = [[]]
        size, start = 0, 0
        for doc, chunks in zip(self.documents, self.chunks, strict=True):
            if size >= chunks_per_batch:
                out.append([])
                size = 0
            end = start + len(chunks)
            out[-1].append(DocumentWrite(doc, chunks, self.vectors[start:end]))
            size, start = size + len(chunks), end
        return out


def _key(corpus: Path, docs: int, settings: Settings) -> str:
    h = hashlib.blake2b(corpus.read_bytes(), digest_size=8)
    h.update(
        f"|{docs}|{settings.chunk_tokens}|{settings.chunk_overlap}|{settings.embedder}".encode()
    )
    return h.hexdigest()


def _first_documents(corpus: Path, docs: int) -> list[Document]:
    """The first `docs` documents of the corpus file (0 = all), as the loader yields them."""
    loaded = (d for d in iter_documents([corpus]) if isinstance(d, Document))
    return list(islice(loaded, docs or None))


def _record(doc: Document, chunks: list[Chunk]) -> dict[str, object]:
    digest = hashlib.blake2b(digest_size=16)
    for c in chunks:
        digest.update(f"{c.title}\x1f{c.text}\x1e".encode())
    stored = StoredDocument(
        id=doc.id,
        content_hash=digest.hexdigest(),
        title=doc.title,
        source=doc.source,
        metadata=doc.metadata,
        chunk_count=len(chunks),
    )
    return {"document": asdict(stored), "chunks": [asdict(c) for c in chunks]}


def _embed_shards(folder: Path, texts: list[str], embedder: Embedder) -> tuple[F32, float]:
    """Embed `texts` shard by shard, skipping shards saved by an earlier run."""
    shards = folder / "shards"
    shards.mkdir(exist_ok=True)
    parts, seconds = [], 0.0
    for n, start in enumerate(range(0, len(texts), SHARD)):
        npy, done = shards / f"{n:05d}.npy", shards / f"{n:05d}.json"
        if not done.exists():  # written after its vectors: a shard with it is complete
            t0 = time.perf_counter()
            np.save(npy, embedder.embed(texts[start : start + SHARD]))
            done.write_text(json.dumps({"seconds": time.perf_counter() - t0}))
            end = min(start + SHARD, len(texts))
            print(f"embedded {end:,}/{len(texts):,} chunks", flush=True)
        parts.append(np.load(npy))
        seconds += json.loads(done.read_text())["seconds"]
    return np.concatenate(parts), seconds


def load_corpus(docs: int, embedder: Embedder, settings: Settings) -> EngineCorpus:
    """The cached corpus of the first `docs` SciFact abstracts, built on first use."""
    corpus = require_data("scifact", "corpus.jsonl")
    folder = cache_dir("engines", _key(corpus, docs, settings))
    if not (folder / "meta.json").exists():
        _build(folder, corpus, docs, embedder, settings)
    records = [json.loads(line) for line in (folder / "chunks.jsonl").read_text().splitlines()]
    queries = json.loads((folder / "queries.json").read_text())
    return EngineCorpus(
        documents=[StoredDocument(**r["document"]) for r in records],
        chunks=[
            [Chunk(**{**c, "heading_path": tuple(c["heading_path"])}) for c in r["chunks"]]
            for r in records
        ],
        vectors=np.load(folder / "vectors.npy"),
        queries=queries,
        query_vectors=np.load(folder / "query_vectors.npy"),
        meta=json.loads((folder / "meta.json").read_text()),
    )


def _build(folder: Path, corpus: Path, docs: int, embedder: Embedder, settings: Settings) -> None:
    loaded = _first_documents(corpus, docs)
    chunked = [
        (d, chunk_document(d, embedder.tokenizer, settings.chunk_tokens, settings.chunk_overlap))
        for d in loaded
    ]
    lines = (json.dumps(_record(d, c)) for d, c in chunked)
    (folder / "chunks.jsonl").write_text("\n".join(lines) + "\n")
    texts = [embedding_text(c.title, c.text) for _, chunks in chunked for c in chunks]
    vectors, seconds = _embed_shards(folder, texts, embedder)
    np.save(folder / "vectors.npy", vectors)
    queries = list(load_beir(corpus.parent).queries.values())  # the judged test claims
    np.save(folder / "query_vectors.npy", embedder.embed(queries))
    (folder / "queries.json").write_text(json.dumps(queries))
    meta = {
        "documents": len(chunked),
        "chunks": len(texts),
        "queries": len(queries),
        "embedder": embedder.name,
        "embed_seconds": round(seconds, 1),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))  # last: marks it complete
