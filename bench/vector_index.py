"""HNSW and IVF-PQ against exact search: recall@10 and single-query speed-up, side by side.

For each data set, every index is the project's `VectorIndex` (rag/stores/local/vectors.py):
Flat (exact, the baseline and the ground truth), HNSW (M=32, efConstruction=200, efSearch
swept) and IVF-PQ (the project's shape: nlist = 4 sqrt(n), dim/8 sub-quantisers of 8 bits,
nprobe swept; shown raw and with the store's exact re-rank of 4k candidates). Queries run one
at a time (batch of 1, as the service sees them) after 20 untimed warm-up queries; the speed-up
is the Flat mean latency over the index's mean latency, measured in the same process.
recall@10 = share of the exact top 10 found in the index's top 10, averaged over queries.

Data sets: `real` is the fine corpus of bench.fine_corpus embedded by bench.embed_cache (run
that first), queried by the SciFact claims; `synthetic` is a Gaussian mixture (bench.synthetic),
200k x 384, 1,000 centres, queries drawn apart from the base set. Built HNSW and IVF-PQ indexes
are cached under the bench cache; their build time is reported from the first build.
FAISS runs with `--threads` OpenMP threads for searches (default 1) and all cores for builds.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import numpy.typing as npt

from bench.ann_sweep import (
    F32,
    I64,
    build,
    build_cached,
    index_search,
    probe,
    recall,
    refined_search,
    set_threads,
)
from bench.ann_sweep import load as load_index
from bench.machine import load_average, machine_info
from bench.paths import cache_dir
from bench.report import Report, Table
from bench.synthetic import gaussian_mixture
from rag.stores.local.store import REFINE
from rag.stores.settings import VectorIndexSettings

K = 10
HEADERS = ["index", "param", "recall@10", "p50 ms", "mean ms", "speed-up"]


def _first(rows: list[tuple[int, float, float]], target: float) -> str:
    for param, rec, speed in rows:
        if rec >= target:
            return f"{param} (recall {rec:.3f}, speed-up {speed:.1f}x)"
    return f"none reached {target}"


def run_set(
    label: str, key: str, base: F32, queries: F32, args: argparse.Namespace, machine: dict[str, str]
) -> Report:
    """All indexes on one data set; `key` names its cache files."""
    folder = cache_dir("indexes")
    dim = base.shape[1]
    set_threads(os.cpu_count() or 1)
    flat = build("flat", base, VectorIndexSettings())
    set_threads(args.threads)
    exact = probe(index_search(flat), queries, K)
    del flat
    flat_mean = float(exact.seconds.mean())
    table = Table(f"{label}: {len(base):,} x {dim}, {len(queries):,} queries", HEADERS)
    p50 = float(np.median(exact.seconds)) * 1000
    table.rows.append(["Flat (exact)", "-", 1.0, p50, flat_mean * 1000, 1.0])
    report = Report(f"vector index: {label}", machine, {})

    def row(name: str, param: str, found: I64, seconds: npt.NDArray[np.float64]) -> float:
        rec = recall(found, exact.ids)
        speed = flat_mean / float(seconds.mean())
        table.rows.append(
            [name, param, rec, float(np.median(seconds)) * 1000, seconds.mean() * 1000, speed]
        )
        return rec

    hnsw_path = folder / f"{key}-hnsw-m{args.m}-efc200.faiss"
    set_threads(os.cpu_count() or 1)
    hnsw_build = build_cached("hnsw", base, hnsw_path, VectorIndexSettings(hnsw_m=args.m))
    set_threads(args.threads)
    hnsw_rows = []
    for ef in args.ef:
        index = load_index(hnsw_path, dim, VectorIndexSettings(hnsw_m=args.m, hnsw_ef_search=ef))
        p = probe(index_search(index), queries, K)
        rec = row(f"HNSW M={args.m}", f"efSearch={ef}", p.ids, p.seconds)
        hnsw_rows.append((ef, rec, flat_mean / float(p.seconds.mean())))
    report.notes.append(
        f"HNSW smallest efSearch with recall@10 >= {args.target}: " + _first(hnsw_rows, args.target)
    )
    report.notes.append(f"HNSW build: {hnsw_build:.0f} s")

    if args.nprobe:
        ivf_path = folder / f"{key}-ivfpq.faiss"
        set_threads(os.cpu_count() or 1)
        ivf_build = build_cached("ivfpq", base, ivf_path, VectorIndexSettings())
        set_threads(args.threads)
        ivf_rows = []
        for nprobe in args.nprobe:
            index = load_index(ivf_path, dim, VectorIndexSettings(ivf_nprobe=nprobe))
            p = probe(index_search(index), queries, K)
            row("IVF-PQ", f"nprobe={nprobe}", p.ids, p.seconds)
            p = probe(refined_search(index, base, REFINE), queries, K)
            rec = row(f"IVF-PQ + re-rank {REFINE}k", f"nprobe={nprobe}", p.ids, p.seconds)
            ivf_rows.append((nprobe, rec, flat_mean / float(p.seconds.mean())))
        report.notes.append(
            f"IVF-PQ + re-rank smallest nprobe with recall@10 >= {args.target}: "
            + _first(ivf_rows, args.target)
        )
        report.notes.append(f"IVF-PQ build (train + add): {ivf_build:.0f} s")
    report.params = {
        "faiss search threads": args.threads,
        "speed-up": "Flat mean latency / index mean latency, one query at a time",
    }
    report.tables.append(table)
    return report


def real_set(limit: int, partial: bool) -> tuple[str, str, F32, F32]:
    """The cached fine-corpus embeddings and SciFact query embeddings."""
    from bench.embed_cache import fingerprint, load_fine

    fine = load_fine(partial)
    runtime = fine.meta.get("runtime", "torch")  # caches from before it was recorded: torch
    key = f"real-{fingerprint(fine.pieces)}-{len(fine.pieces)}-{runtime}"
    label = f"real (fine corpus, {fine.meta['embedder']}, {runtime})"
    return label, key, fine.vectors, fine.query_vectors[:limit]


def synthetic_set(args: argparse.Namespace) -> tuple[str, str, F32, F32]:
    """The Gaussian mixture with the command line's parameters."""
    base, queries = gaussian_mixture(
        args.synthetic_n, args.queries, centres=args.centres, noise=args.noise, seed=args.seed
    )
    key = f"synthetic-{args.synthetic_n}-{args.centres}-{args.noise}-{args.seed}"
    label = f"synthetic ({args.centres} centres, noise {args.noise})"
    return label, key, base, queries


def main() -> None:
    """Parse options, run the chosen data sets, print one report each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["real", "synthetic", "both"], default="both")
    parser.add_argument("--queries", type=int, default=1000, help="queries per data set")
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 32, 48, 64, 96, 128, 256])
    parser.add_argument("--nprobe", type=int, nargs="*", default=[4, 8, 16, 32, 64])
    parser.add_argument("--m", type=int, default=32, help="HNSW M")
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads for searches")
    parser.add_argument("--target", type=float, default=0.95, help="recall@10 to reach")
    parser.add_argument("--synthetic-n", type=int, default=200_000)
    parser.add_argument("--centres", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm per point")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--partial", action="store_true", help="real: use the shards done so far")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    machine = machine_info()  # before the benchmark changes FAISS's thread count
    sets = ["real", "synthetic"] if args.set == "both" else [args.set]
    for name in sets:
        real = name == "real"
        data = real_set(args.queries, args.partial) if real else synthetic_set(args)
        label, key, base, queries = data
        report = run_set(label, key, base, queries, args, machine)
        report.notes.append(f"load average at the end: {load_average()}")
        report.emit(args.json)


if __name__ == "__main__":
    main()
