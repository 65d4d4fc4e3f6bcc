"""The local engine and Elasticsearch side by side: bulk ingest throughput and query latency.

Both engines get the same work in one run (bench.engine_corpus: SciFact chunks with cached
MiniLM vectors, the 300 SciFact test claims with cached query vectors):
- ingest: a fresh KB of each engine (local: SQLite + FAISS Flat; Elasticsearch: HNSW, what
  the factory gives a `flat` KB), then `store.write` of the same `DocumentWrite` batches (whole
  documents, `ingest_batch_chunks` chunks, as the Ingestor writes them) and `store.flush`,
  timed together; Elasticsearch's first write also creates the index. Repeats alternate which
  engine goes first; the fastest run of each is shown (the least disturbed on a shared machine).
- latency: `retriever.search(query, mode, k)` for bm25, dense and hybrid, what the API calls.
  The query vector comes from the cache for both engines, so the model is out of the timing.
  Each query runs on both engines back to back, in alternating order, after untimed warm-up,
  so a change in machine load hits both alike. "top-10 overlap" is the mean share of the local
  top-10 documents that Elasticsearch also returns, a check that both did the same work.

Needs a running Elasticsearch: `RAG_ES_URL=$(scripts/elasticsearch.sh start)`. The KBs live in
`<cache>/engines/kbs` and under the index prefix `bench-`; both are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

import numpy as np

from bench.engine_corpus import F32, EngineCorpus, load_corpus
from bench.machine import load_average, machine_info
from bench.paths import cache_dir
from bench.report import Cell, Report, Table
from bench.timing import Latency
from rag.config import Settings
from rag.embedding import Embedder, load_embedder
from rag.embedding.base import Tokenizer, Vectors
from rag.stores.elasticsearch import connect
from rag.types import EngineKind, Hit, SearchMode
from rag.workspace import OpenKB, Workspace

ENGINES: tuple[EngineKind, ...] = ("local", "elasticsearch")
MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")
WARMUP = 10


class CachedQueries:
    """The real embedder, answering the benchmark's queries from their cached vectors."""

    def __init__(self, embedder: Embedder, texts: Sequence[str], vectors: F32) -> None:
        self.name = embedder.name
        self.dim = embedder.dim
        self.tokenizer: Tokenizer = embedder.tokenizer
        self._embedder = embedder
        self._rows = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = [self._rows.get(t) for t in texts]
        if any(r is None for r in rows):
            return self._embedder.embed(texts)
        return self._vectors[[r for r in rows if r is not None]]


def fresh_kb(ws: Workspace, engine: EngineKind) -> OpenKB:
    """An empty KB of `engine`, replacing one an earlier run left behind."""
    name = f"engines-{engine}"
    if any(c.name == name for c in ws.list()):
        ws.drop(name)
    ws.create(name, engine=engine, index="flat")
    return ws.open(name)


def time_ingest(ws: Workspace, engine: EngineKind, corpus: EngineCorpus, batch: int) -> float:
    """Seconds to write every batch into a fresh KB of `engine` and flush it."""
    batches = corpus.batches(batch)
    kb = fresh_kb(ws, engine)
    try:
        t0 = time.perf_counter()
        for writes in batches:
            kb.store.write(writes)
        kb.store.flush()
        return time.perf_counter() - t0
    finally:
        kb.close()


def ingest_table(
    ws: Workspace, corpus: EngineCorpus, repeats: int, batch: int
) -> tuple[Table, dict[str, list[float]]]:
    """Fastest ingest per engine, repeats alternating which engine goes first."""
    runs: dict[str, list[float]] = {e: [] for e in ENGINES}
    for r in range(repeats):
        for engine in ENGINES if r % 2 == 0 else ENGINES[::-1]:
            runs[engine].append(time_ingest(ws, engine, corpus, batch))
    docs, chunks = len(corpus.documents), len(corpus.vectors)
    table = Table(
        "bulk ingest (store.write of the same batches + flush)",
        ["engine", "documents", "chunks", "seconds", "docs/s", "chunks/s", "time vs local"],
    )
    for engine in ENGINES:
        best = min(runs[engine])
        ratio = best / min(runs["local"])
        table.rows.append([engine, docs, chunks, best, docs / best, chunks / best, f"{ratio:.2f}x"])
    return table, runs


def time_queries(
    kbs: dict[EngineKind, OpenKB], queries: list[str], mode: SearchMode, k: int
) -> tuple[dict[str, Latency], float]:
    """Latency per engine for one mode, and the mean top-k document overlap."""

    def search(engine: EngineKind, i: int) -> list[Hit]:
        return kbs[engine].retriever.search(queries[i], mode, k)

    for i in range(min(WARMUP, len(queries))):
        for engine in ENGINES:
            search(engine, i)
    seconds: dict[str, list[float]] = {e: [] for e in ENGINES}
    overlap = []
    for i in range(len(queries)):
        found: dict[str, set[str]] = {}
        for engine in ENGINES if i % 2 == 0 else ENGINES[::-1]:
            t0 = time.perf_counter()
            hits = search(engine, i)
            seconds[engine].append(time.perf_counter() - t0)
            found[engine] = {h.doc_id for h in hits}
        local = found["local"]
        overlap.append(len(local & found["elasticsearch"]) / len(local) if local else 1.0)
    return {e: Latency.of(s) for e, s in seconds.items()}, float(np.mean(overlap))


def latency_table(ws: Workspace, queries: list[str], k: int) -> Table:
    """p50/p95 per mode and engine, measured side by side."""
    table = Table(
        f"query latency, k={k}, {len(queries)} queries, query vectors cached",
        [
            "mode",
            "local p50 ms",
            "local p95 ms",
            "ES p50 ms",
            "ES p95 ms",
            "ES/local p50",
            "top-10 overlap",
        ],
    )
    kbs = {e: ws.open(f"engines-{e}") for e in ENGINES}
    try:
        for mode in MODES:
            lat, overlap = time_queries(kbs, queries, mode, k)
            local, es = lat["local"], lat["elasticsearch"]
            row: list[Cell] = [mode, local.p50, local.p95, es.p50, es.p95]
            table.rows.append([*row, f"{es.p50 / local.p50:.2f}x", f"{overlap:.3f}"])
    finally:
        for kb in kbs.values():
            kb.close()
    return table


def es_facts(settings: Settings) -> tuple[str, int]:
    """The server's version and how many segments the benchmark index has."""
    client = connect(settings.es_url)
    try:
        version = str(client.info()["version"]["number"])
        alias = f"{settings.es_index_prefix}engines-elasticsearch"
        segments = len(client.cat.segments(index=alias, format="json"))
        return version, segments
    finally:
        client.close()


def main() -> None:
    """Embed once (cached), ingest into both engines, time every mode, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="first N abstracts, 0 = all")
    parser.add_argument("--repeats", type=int, default=3, help="ingest runs per engine")
    parser.add_argument("--queries", type=int, default=0, help="first N test claims, 0 = all")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--es-url", default=os.environ.get("RAG_ES_URL") or Settings().es_url)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    machine = machine_info()
    settings = Settings(
        data_dir=cache_dir("engines", "kbs"), es_url=args.es_url, es_index_prefix="bench-"
    )
    embedder = load_embedder(settings.embedder, settings.embed_batch_size)
    corpus = load_corpus(args.docs, embedder, settings)
    queries = corpus.queries[: args.queries or None]
    ws = Workspace(settings, CachedQueries(embedder, corpus.queries, corpus.query_vectors))
    started = load_average()
    ingest, runs = ingest_table(ws, corpus, args.repeats, settings.ingest_batch_chunks)
    latency = latency_table(ws, queries, args.k)
    version, segments = es_facts(settings)
    for engine in ENGINES:
        ws.drop(f"engines-{engine}")
    report = Report(
        "local engine vs Elasticsearch",
        machine,
        {
            "data": f"first {len(corpus.documents):,} SciFact abstracts -> "
            f"{len(corpus.vectors):,} chunks ({settings.chunk_tokens} tokens, "
            f"overlap {settings.chunk_overlap}), vectors cached ({corpus.meta['embedder']})",
            "engines": f"local = SQLite FTS5 + FAISS Flat; Elasticsearch {version} at "
            f"{settings.es_url}, 1 shard, HNSW (m=16, ef_construction=100), "
            f"num_candidates = {settings.es_num_candidates_factor} x k",
            "hybrid": f"{settings.hybrid_candidates} candidates per mode, RRF k={settings.rrf_k}",
            "write batch": f"{settings.ingest_batch_chunks} chunks",
        },
        [ingest, latency],
    )
    report.notes += [
        "ingest runs (s): " + "; ".join(f"{e} {[round(s, 1) for s in runs[e]]}" for e in ENGINES),
        f"Elasticsearch index after ingest: {segments} segments (not force-merged)",
        f"load average at the start: {started}; at the end: {load_average()}",
    ]
    report.emit(args.json)


if __name__ == "__main__":
    main()
