"""Retrieval and relevance gate of the answer path: one query embedding (now) vs two (before).

Before issue 9 the relevance gate ran a second dense search, with a second embedding of the
query, to learn the cosine of BM25 and hybrid hits (`legacy_relevance` below keeps that code).
Now hits carry the cosine their dense search found, the query is embedded once, and hits
found only by BM25 are scored against their stored vectors (`Store.cosines`). Both ways run
in one process, on the same KB and the same questions:
- the KB: the first N SciFact abstracts through the real loader and chunker, embedded once
  with the packaged MiniLM and cached (bench.engine_corpus), written to a fresh KB of each
  engine (local: SQLite + FAISS Flat; Elasticsearch: HNSW, with `--es-url`);
- the questions: SciFact test claims; each query is embedded by the real model every time,
  since the embedding is the cost that changes;
- the timed call: `Answerer.prepare` (retrieve, gate, pack; no generation), and the number is
  its `timings.retrieve` (what `Answer.timings.retrieve` reports). The old way is the same
  `Answerer` with `retrieve` replaced by the code before the change. Each question runs both
  ways back to back, alternating which goes first, after untimed warm-up.
- agreement: requests turn the threshold off, so every hit of the k becomes a passage with
  its relevance: the table shows the largest difference between the two ways' values, and
  how many questions each way would abstain on (no passage over the default threshold).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.engine_corpus import EngineCorpus, load_corpus
from bench.machine import load_average, machine_info
from bench.paths import cache_dir
from bench.report import Cell, Report, Table
from bench.timing import Latency
from rag.answer import Answerer, AnswerRequest, AnswerSettings
from rag.composition import answer_settings
from rag.config import Settings
from rag.embedding.base import embedding_text
from rag.generation.fake import ScriptedGenerator
from rag.generation.profiles import GeneratorProfile
from rag.generation.router import GeneratorRouter
from rag.kb import OpenKB
from rag.retrieval import Retriever
from rag.stores.base import Filters
from rag.types import EngineKind, Hit, SearchMode
from rag.workspace import Workspace

MODES: tuple[SearchMode, ...] = ("bm25", "hybrid")
WARMUP = 10
HEADERS = [
    "engine",
    "mode",
    "before p50 ms",
    "before p95 ms",
    "now p50 ms",
    "now p95 ms",
    "p50 before/now",
    "p95 before/now",
    "max Δ relevance",
    "abstained before/now",
]


def legacy_relevance(
    query: str,
    hits: Sequence[Hit],
    mode: SearchMode,
    retriever: Retriever,
    filters: Filters | None = None,
) -> list[float]:
    """The relevance gate before issue 9, verbatim but for names: a second dense search."""
    if not hits or mode == "dense":
        return [hit.score for hit in hits]
    wide = max(len(hits), retriever.hybrid_candidates)
    cosine = {h.chunk.id: h.score for h in retriever.search(query, "dense", wide, filters)}
    missing = [h for h in hits if h.chunk.id not in cosine]
    if missing:
        texts = [embedding_text(h.chunk.title, h.chunk.text) for h in missing]
        vectors = retriever.embedder.embed([query, *texts])  # unit vectors: dot = cosine
        for hit, score in zip(missing, vectors[1:] @ vectors[0], strict=True):
            cosine[hit.chunk.id] = float(score)
    return [cosine[h.chunk.id] for h in hits]


class LegacyAnswerer(Answerer):
    """The answer path with retrieval and gate as they were: the query embedded twice."""

    def retrieve(self, kb: OpenKB, request: AnswerRequest) -> list[tuple[Hit, float]]:
        k = request.k or self.k
        query = request.question if request.query is None else request.query
        hits = kb.retriever.search(query, request.mode, k, request.filters)
        scores = legacy_relevance(query, hits, request.mode, kb.retriever, request.filters)
        threshold = self.min_relevance if request.min_relevance is None else request.min_relevance
        return [(h, s) for h, s in zip(hits, scores, strict=True) if s >= threshold]


def answerers(settings: AnswerSettings, model_cache: Path) -> dict[str, Answerer]:
    """Both ways, on a generator that only counts tokens (packing needs it; nothing runs)."""
    router = GeneratorRouter(
        {"local": GeneratorProfile()},
        "local",
        {},
        model_cache,
        build=lambda profile, cache: ScriptedGenerator(),
    )
    return {"before": LegacyAnswerer(router, settings), "now": Answerer(router, settings)}


def fresh_kb(ws: Workspace, engine: EngineKind, corpus: EngineCorpus, batch: int) -> OpenKB:
    """A KB of `engine` holding the corpus, replacing one an earlier run left behind."""
    name = f"answer-retrieval-{engine}"
    if any(c.name == name for c in ws.list()):
        ws.drop(name)
    ws.create(name, engine=engine, index="flat")
    kb = ws.open(name)
    for writes in corpus.batches(batch):
        kb.store.write(writes)
    kb.store.flush()
    return kb


def measure(
    kb: OpenKB, ways: dict[str, Answerer], queries: list[str], mode: SearchMode
) -> list[Cell]:
    """One table row: both ways' retrieve latency and how far their relevance values differ."""
    threshold = ways["now"].min_relevance

    def request(query: str) -> AnswerRequest:
        # Threshold off, so every hit becomes a passage and both ways' relevance values can
        # be compared; the gate computes them all either way, so the timing is the same.
        return AnswerRequest(query, mode=mode, min_relevance=-1.0)

    for i in range(min(WARMUP, len(queries))):
        for way in ways.values():
            way.prepare(kb, request(queries[i]))
    seconds: dict[str, list[float]] = {w: [] for w in ways}
    abstained = dict.fromkeys(ways, 0)
    worst = 0.0
    names = list(ways)
    for i, query in enumerate(queries):
        relevance: dict[str, dict[str, float]] = {}
        for name in names if i % 2 == 0 else names[::-1]:
            prep = ways[name].prepare(kb, request(query))
            seconds[name].append(prep.timings.retrieve)
            relevance[name] = {p.hit.chunk.id: p.relevance for p in prep.passages}
            abstained[name] += all(r < threshold for r in relevance[name].values())
        before, now = relevance["before"], relevance["now"]
        if before.keys() != now.keys():
            raise RuntimeError(f"the two ways retrieved different chunks for {query!r}")
        worst = max([worst, *(abs(before[c] - now[c]) for c in now)])
    old, new = Latency.of(seconds["before"]), Latency.of(seconds["now"])
    print(f"{kb.config.engine} {mode}: done", file=sys.stderr, flush=True)
    return [
        kb.config.engine,
        mode,
        old.p50,
        old.p95,
        new.p50,
        new.p95,
        f"{old.p50 / new.p50:.2f}x",
        f"{old.p95 / new.p95:.2f}x",
        f"{worst:.1e}",
        f"{abstained['before']}/{abstained['now']}",
    ]


def main() -> None:
    """Build the KBs (corpus vectors cached), time both ways per engine and mode, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="first N abstracts, 0 = all")
    parser.add_argument("--queries", type=int, default=100, help="first N test claims, 0 = all")
    parser.add_argument(
        "--es-url",
        default=os.environ.get("RAG_ES_URL"),
        help="also measure an Elasticsearch KB there (default: $RAG_ES_URL; none: local only)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    machine = machine_info()
    settings = Settings(
        data_dir=cache_dir("answer-retrieval", "kbs"),
        es_url=args.es_url or Settings().es_url,
        es_index_prefix="bench-",
    )
    ws = Workspace(settings)
    corpus = load_corpus(args.docs, ws.embedder(), settings)
    queries = corpus.queries[: args.queries or None]
    ways = answerers(answer_settings(settings), settings.cache_dir)
    engines: list[EngineKind] = ["local", "elasticsearch"] if args.es_url else ["local"]
    table = Table(
        f"Answerer.prepare timings.retrieve, k={ways['now'].k}, {len(queries)} questions, "
        "query embedded by the model each time",
        HEADERS,
    )
    started = load_average()
    t0 = time.perf_counter()
    for engine in engines:
        kb = fresh_kb(ws, engine, corpus, settings.ingest_batch_chunks)
        try:
            for mode in MODES:
                table.rows.append(measure(kb, ways, queries, mode))
        finally:
            kb.close()
            ws.drop(kb.config.name)
    report = Report(
        "answer path: retrieval and relevance gate, before and after issue 9",
        machine,
        {
            "data": f"first {len(corpus.documents):,} SciFact abstracts -> "
            f"{len(corpus.vectors):,} chunks ({settings.chunk_tokens} tokens, overlap "
            f"{settings.chunk_overlap}), corpus vectors cached ({corpus.meta['embedder']})",
            "engines": "local = SQLite FTS5 + FAISS Flat"
            + (f"; Elasticsearch at {settings.es_url}, HNSW" if args.es_url else ""),
            "hybrid": f"{settings.hybrid_candidates} candidates per mode, RRF k={settings.rrf_k}",
            "relevance threshold": f"{ways['now'].min_relevance} (abstained = no passage over it)",
        },
        [table],
    )
    report.notes += [
        "before: search (embeds the query for dense/hybrid), then a dense search of "
        f"{settings.hybrid_candidates} with a second query embedding to look up cosines; "
        "now: one embedding, dense hits carry their cosine, BM25-only hits read stored vectors",
        f"run took {time.perf_counter() - t0:.0f} s; load average at the start: {started}; "
        f"at the end: {load_average()}",
    ]
    report.emit(args.json)


if __name__ == "__main__":
    main()
