"""CPU against GPU, side by side: embed throughput per runtime, FAISS search latency per index.

Runs unchanged on a machine with or without a GPU: where CUDA is not usable for a runtime or
for FAISS (faiss-gpu is the `gpu` extra), its rows say so instead of a number. Embedding uses
SciFact abstracts; search uses unit random vectors of the model's dimension (a latency
measurement: the data's structure matters for recall, not for the time of a Flat or IVF scan).

    nice -n 10 .venv/bin/python -m bench.gpu_compute --texts 512 --vectors 200000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from bench.machine import machine_info
from bench.paths import cache_dir, require_data
from bench.report import Cell, Report, Table
from rag.embedding import load_embedder
from rag.embedding.device import cuda_available
from rag.embedding.variants import EmbedRuntime
from rag.errors import ConfigError
from rag.stores.local.gpu import gpu_count
from rag.stores.local.vectors import VectorIndex, ivfpq_train_size
from rag.stores.settings import VectorIndexSettings

DIM = 384
RUNTIMES: tuple[EmbedRuntime, ...] = ("torch", "onnx", "onnx-int8")


def abstracts(n: int) -> list[str]:
    """The first `n` SciFact abstracts, title and text."""
    with require_data("scifact", "corpus.jsonl").open() as f:
        rows = [json.loads(line) for line, _ in zip(f, range(n), strict=False)]
    return [f"{r.get('title', '')}\n{r['text']}" for r in rows]


def embed_rows(texts: list[str], batch: int) -> list[list[Cell]]:
    """texts/s per runtime on CPU and on CUDA (when that runtime can reach a GPU)."""
    rows: list[list[Cell]] = []
    for runtime in RUNTIMES:
        rates: dict[str, Cell] = {}
        for device in ("cpu", "cuda"):
            if device == "cuda" and not cuda_available(runtime):
                rates[device] = "no CUDA for this runtime"
                continue
            model = load_embedder(
                batch_size=batch, runtime=runtime, cache_dir=cache_dir("onnx"), device=device
            )
            model.embed(texts[:batch])  # warm-up: allocations, kernels, CUDA context
            t0 = time.perf_counter()
            model.embed(texts)
            rates[device] = len(texts) / (time.perf_counter() - t0)
        ratio: Cell = "-"
        if isinstance(rates["cuda"], float) and isinstance(rates["cpu"], float):
            ratio = rates["cuda"] / rates["cpu"]
        rows.append([runtime, rates["cpu"], rates["cuda"], ratio])
    return rows


def search_rows(vectors: np.ndarray, queries: np.ndarray, k: int) -> list[list[Cell]]:
    """Median and p95 ms per single-query search, Flat and IVF-PQ, CPU and GPU."""
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    rows: list[list[Cell]] = []
    for kind in ("flat", "ivfpq"):
        cells: dict[str, tuple[Cell, Cell]] = {}
        exact: list[set[int]] = []
        for device in ("cpu", "cuda"):
            if device == "cuda" and gpu_count() == 0:
                cells[device] = ("no faiss-gpu / GPU", "-")
                continue
            settings = VectorIndexSettings(device="cpu" if device == "cpu" else "cuda")
            if kind == "flat":
                index = VectorIndex.empty("flat", DIM, settings)
            else:
                train = vectors[: ivfpq_train_size(len(vectors))]
                index = VectorIndex.train_ivfpq(train, len(vectors), DIM, settings)
            index.add(ids, vectors)
            index.search(queries[0], k)  # warm-up: the GPU copy is made here
            times, found = [], []
            for q in queries:
                t0 = time.perf_counter()
                _, hit = index.search(q, k)
                times.append(1000 * (time.perf_counter() - t0))
                found.append(set(hit.tolist()))
            if kind == "flat" and device == "cpu":
                exact = found
            cells[device] = (statistics.median(times), float(np.percentile(times, 95)))
            if exact and device == "cuda" and kind == "flat":
                same = np.mean([len(a & b) / k for a, b in zip(exact, found, strict=True)])
                cells[device] = (cells[device][0], f"{cells[device][1]:.3f} (same {same:.3f})")
        rows.append([kind, *cells["cpu"], *cells["cuda"]])
    return rows


def main() -> None:
    """Print both tables for this machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256, help="SciFact abstracts to embed")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors in each index")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    report = Report(
        "CPU vs GPU: embedding and FAISS search",
        machine_info(),
        {"faiss GPUs": gpu_count(), "texts": args.texts, "vectors": args.vectors},
    )
    try:
        embed = embed_rows(abstracts(args.texts), args.batch)
    except ConfigError as exc:
        embed = [["error", str(exc), "-", "-"]]
    report.tables.append(
        Table(
            f"Embed throughput, {args.texts} abstracts, batch {args.batch} (texts/s)",
            ["runtime", "cpu", "cuda", "cuda / cpu"],
            embed,
        )
    )
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.vectors, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.choice(args.vectors, args.queries, replace=False)] + 0.01
    report.tables.append(
        Table(
            f"Single-query search, k=10, {args.vectors:,} vectors of dim {DIM} (ms)",
            ["index", "cpu p50", "cpu p95", "gpu p50", "gpu p95"],
            search_rows(vectors, queries, 10),
        )
    )
    report.emit(args.json)


if __name__ == "__main__":
    main()
