"""Query embedding under concurrency: micro-batching on against off, with the packaged MiniLM.

Each of C client threads embeds one SciFact claim at a time, as an API worker thread embeds
the query of a search request, until the fixed set of queries is used up. "off" calls the
model directly from every thread (`batched(..., enabled=False)` is the model itself); "on"
puts `rag.embedding.batching.MicroBatchingEmbedder` in front. Throughput is queries over wall time;
latency is per embed call, queueing and the batching window included. The rows of both modes
are compared, so a batch (with padding) is known to give the same vectors as single calls.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass

import numpy as np

from bench.fine_corpus import scifact_queries
from bench.machine import load_average, machine_info
from bench.report import Cell, Report, Table
from bench.timing import Latency
from rag.embedding.base import Embedder, Vectors
from rag.embedding.batching import MicroBatchingEmbedder, batched
from rag.embedding.factory import load_embedder

HEADERS = ["clients", "batching", "queries/s", "p50 ms", "p95 ms", "inner calls", "mean batch"]


@dataclass(frozen=True)
class Run:
    """What one (clients, mode) run measured, and the vectors it produced."""

    seconds: float
    latency: Latency
    vectors: Vectors


def drive(embedder: Embedder, queries: list[str], clients: int) -> Run:
    """`clients` threads embed the queries one at a time, each taking the next unclaimed one."""
    vectors = np.zeros((len(queries), embedder.dim), dtype=np.float32)
    timings: list[float] = []
    claim = threading.Lock()
    next_index = 0
    start = threading.Barrier(clients + 1)

    def client() -> None:
        nonlocal next_index
        start.wait()
        while True:
            with claim:
                i, next_index = next_index, next_index + 1
            if i >= len(queries):
                return
            t0 = time.perf_counter()
            vectors[i] = embedder.embed([queries[i]])[0]
            timings.append(time.perf_counter() - t0)  # list.append is atomic under the GIL

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return Run(time.perf_counter() - t0, Latency.of(timings), vectors)


def main() -> None:
    """Time every (clients, mode) pair on the same queries and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=256, help="SciFact claims per run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--window-ms", type=float, default=5.0)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    machine = machine_info()
    queries = [claim for _, claim in scifact_queries()][: args.queries]
    model = load_embedder()
    model.embed(queries[:32])  # untimed warm-up: first calls pay for allocations
    table = Table(f"{len(queries)} single-query embed calls per run, {model.name}", HEADERS)
    max_diff = 0.0
    for clients in args.clients:
        runs: dict[bool, Run] = {}
        for enabled in (False, True):
            embedder = batched(model, args.window_ms, args.max_batch, enabled)
            runs[enabled] = run = drive(embedder, queries, clients)
            calls, mean = str(len(queries)), "1.0"  # off: one model call per query
            if isinstance(embedder, MicroBatchingEmbedder):
                embedder.close()
                stats = embedder.stats
                calls, mean = str(stats.batches), f"{stats.requests / stats.batches:.1f}"
            lat = run.latency
            qps = len(queries) / run.seconds
            cells: list[Cell] = [clients, "on" if enabled else "off", qps, lat.p50, lat.p95]
            table.rows.append([*cells, calls, mean])
        max_diff = max(max_diff, float(np.abs(runs[True].vectors - runs[False].vectors).max()))
    report = Report(
        "query embedding: micro-batching on vs off",
        machine,
        {"window": f"{args.window_ms} ms", "max batch": f"{args.max_batch} texts"},
        [table],
    )
    report.notes.append(
        f"largest difference between batched and single-call vectors: {max_diff:.1e}"
    )
    report.notes.append(f"load average at the end: {load_average()}")
    report.emit(args.json)


if __name__ == "__main__":
    main()
