"""Query latency p50/p95 per search mode through the real retriever, on real local KBs.

KBs of about 10k and about 180k chunks (the fine corpus of bench.fine_corpus, whole documents
from the start; with `--partial`, as many as are embedded so far) are built once from the
cached embeddings of bench.embed_cache by bench.kb_build, one Flat and one HNSW KB per size,
and reused on later runs. Each query is a SciFact claim; every mode runs the same queries one
at a time after untimed warm-up:
- `dense`, `bm25`, `hybrid`: `OpenKB.retriever.search(query, mode, k)`, what the API calls;
  dense and hybrid include embedding the query with the packaged MiniLM on CPU.
- `embed only`: `embedder.embed([query])`, the embedding part of dense.
- `dense, store only`: `store.search_dense` with the query's cached vector (no embedding).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench.embed_cache import F32, fingerprint, load_fine
from bench.kb_build import BuiltKB, open_or_build, whole_documents
from bench.machine import load_average, machine_info
from bench.paths import cache_dir
from bench.report import Cell, Report, Table
from bench.timing import Latency
from rag.config import Settings
from rag.types import IndexKind, SearchMode
from rag.workspace import Workspace

WARMUP = 10
HEADERS = ["chunks", "index", "mode", "p50 ms", "p95 ms", "mean ms"]


def timed(call: Callable[[int], object], n: int) -> Latency:
    """Latency of `call(i)` for i in 0..n-1, after a few untimed warm-up calls."""
    for i in range(min(WARMUP, n)):
        call(i)
    seconds = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - t0)
    return Latency.of(seconds)


def measure(built: BuiltKB, queries: list[str], vectors: F32, k: int) -> list[list[Cell]]:
    """Rows of the latency table for one KB."""
    kb = built.kb

    def mode_call(mode: SearchMode) -> Callable[[int], object]:
        return lambda i: kb.retriever.search(queries[i], mode, k)

    calls: list[tuple[str, Callable[[int], object]]] = [
        ("embed only", lambda i: kb.embedder.embed([queries[i]])),
        ("dense, store only", lambda i: kb.store.search_dense(vectors[i], k)),
        ("dense", mode_call("dense")),
        ("bm25", mode_call("bm25")),
        ("hybrid", mode_call("hybrid")),
    ]
    rows: list[list[Cell]] = []
    for label, call in calls:
        lat = timed(call, len(queries))
        rows.append([built.chunks, kb.config.index, label, lat.p50, lat.p95, lat.mean])
    return rows


def main() -> None:
    """Build or reuse the KBs, time every mode, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[10_000, 0],
        help="chunk counts (whole documents); 0 = the whole fine corpus",
    )
    parser.add_argument(
        "--indexes", nargs="+", default=["flat", "hnsw"], choices=["flat", "hnsw", "ivfpq"]
    )
    parser.add_argument("--queries", type=int, default=200, help="SciFact claims per mode")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ef-search", type=int, default=Settings().hnsw_ef_search)
    parser.add_argument("--partial", action="store_true", help="use the shards embedded so far")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    machine = machine_info()
    fine = load_fine(args.partial)
    settings = Settings(
        data_dir=cache_dir("kbs", fingerprint(fine.pieces)), hnsw_ef_search=args.ef_search
    )
    ws = Workspace(settings)
    queries = fine.queries[: args.queries]
    table = Table(f"latency per query, k={args.k}, {len(queries)} queries", HEADERS)
    builds = []
    for size in args.sizes:
        count = whole_documents(fine.pieces, size) if size else len(fine.pieces)
        kind: IndexKind
        for kind in args.indexes:
            built = open_or_build(
                ws, f"fine-{count}-{kind}", kind, fine.pieces[:count], fine.vectors[:count]
            )
            took = "reused" if built.build_seconds is None else f"{built.build_seconds:.0f} s"
            builds.append(f"{count:,} chunks, {kind}: built {took}")
            table.rows.extend(measure(built, queries, fine.query_vectors, args.k))
            built.kb.close()
    report = Report(
        "query latency per mode",
        machine,
        {
            "hnsw": f"M={settings.hnsw_m}, efSearch={settings.hnsw_ef_search}",
            "hybrid": f"{settings.hybrid_candidates} candidates per mode, RRF k={settings.rrf_k}",
            "KB builds": "; ".join(builds),
        },
        [table],
    )
    report.notes.append(f"load average at the end: {load_average()}")
    report.emit(args.json)


if __name__ == "__main__":
    main()
