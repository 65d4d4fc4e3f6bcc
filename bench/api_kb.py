"""The SciFact KB the API load test serves: the first N abstracts, built once per data dir.

Built the cheap way when it can be: the engine benchmark (`bench.engine_corpus`) caches the
SciFact chunks exactly as `rag ingest` cuts them, with their MiniLM vectors; when a complete
cache of at least N documents made with the current chunking and embedder exists, its first N
documents are written through the store (the Ingestor's own write calls, minus the embedder).
Otherwise the KB is built the user's way, `rag kb create` + `rag ingest` on an N-line copy of
the corpus. Either way the KB holds the same chunks and vectors; a marker file records which
N it holds, so later runs reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

from bench.engine_corpus import EngineCorpus, _key, load_corpus
from bench.paths import cache_dir, require_data
from rag.config import Settings
from rag.embedding import load_embedder
from rag.workspace import Workspace

KB_NAME = "scifact"
RAG = str(Path(sys.executable).with_name("rag"))


def ensure_kb(data_dir: Path, docs: int) -> dict[str, object]:
    """The KB `scifact` of the first `docs` SciFact abstracts in `data_dir`; its build record."""
    marker = data_dir / f"{KB_NAME}.built.json"
    if marker.exists():
        record: dict[str, object] = json.loads(marker.read_text())
        if record.get("documents") == docs:
            return record
    settings = Settings(data_dir=data_dir)
    ws = Workspace(settings)
    if any(c.name == KB_NAME for c in ws.list()):
        ws.drop(KB_NAME)  # built for another N, or half built by a killed run
    t0 = time.perf_counter()
    cached = _cached_corpus(settings, docs)
    if cached is not None:
        chunks = _write_cached(ws, cached, docs)
        how = f"first {docs} documents of the engine benchmark's cached chunks and vectors"
    else:
        chunks = _ingest_cli(data_dir, docs)
        how = "rag kb create + rag ingest"
    record = {
        "documents": docs,
        "chunks": chunks,
        "built_with": how,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    marker.write_text(json.dumps(record, indent=2))  # last: marks the KB complete
    return record


def _cached_corpus(settings: Settings, docs: int) -> EngineCorpus | None:
    """A complete engine-benchmark cache covering `docs` documents, made with these settings."""
    corpus = require_data("scifact", "corpus.jsonl")
    for meta_file in sorted(cache_dir("engines").glob("*/meta.json")):
        size = int(json.loads(meta_file.read_text())["documents"])
        # The folder name hashes corpus, size, chunking and embedder: a match means the
        # chunks are the ones `rag ingest` would cut with this data dir's settings.
        if size >= docs and meta_file.parent.name == _key(corpus, size, settings):
            return load_corpus(size, load_embedder(settings.embedder), settings)
    return None


def _write_cached(ws: Workspace, corpus: EngineCorpus, docs: int) -> int:
    ws.create(KB_NAME, domain="general")
    kb = ws.open(KB_NAME)
    try:
        n_chunks = sum(len(c) for c in corpus.chunks[:docs])
        first = EngineCorpus(
            documents=corpus.documents[:docs],
            chunks=corpus.chunks[:docs],
            vectors=corpus.vectors[:n_chunks],
            queries=corpus.queries,
            query_vectors=corpus.query_vectors,
            meta=corpus.meta,
        )
        for batch in first.batches(ws.settings.ingest_batch_chunks):
            kb.store.write(batch)
        kb.store.flush()
        return kb.store.stats().chunks
    finally:
        kb.close()


def _ingest_cli(data_dir: Path, docs: int) -> int:
    subset = data_dir / f"scifact-first-{docs}.jsonl"
    with require_data("scifact", "corpus.jsonl").open() as src:
        subset.write_text("".join(islice(src, docs)))
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    subprocess.run([RAG, "kb", "create", KB_NAME], env=env, check=True)
    print(f"ingesting {docs} SciFact abstracts (minutes on a small CPU)...", flush=True)
    out = subprocess.run(
        [RAG, "ingest", KB_NAME, str(subset), "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    kb = Workspace(Settings(data_dir=data_dir)).open(KB_NAME)
    try:
        chunks = kb.store.stats().chunks
    finally:
        kb.close()
    print(f"ingested: {result.get('counts', result)}", flush=True)
    return chunks
