"""Hybrid reads of one local KB from many threads: this checkout's store against an older one.

What a hybrid search asks of the store (BM25 for 100 candidates, dense for 100), with the query
vectors embedded beforehand so that only the store is timed, from 1 and from N threads for a
fixed time. `--before DIR` runs the same reads with an older checkout's `rag` package (for
example main before the store allowed concurrent reads), each in its own interpreter whose
working directory selects the code, alternating before/after per round.

    nice -n 10 .venv/bin/python -m bench.store_reads --kb KB_FOLDER --before /tmp/before
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.machine import load_average, machine_info
from bench.paths import REPO, cache_dir, require_data
from bench.report import Report, Table
from evaluation.beir import load_beir
from rag.embedding import load_embedder

# Runs in a fresh interpreter whose working directory holds the `rag` package to measure.
WORKER = """
import json, sys, threading, time
import numpy as np
from rag.stores.local import LocalStore
folder, dim, threads, seconds, qfile, vfile = sys.argv[1:7]
queries = json.loads(open(qfile).read())
vectors = np.load(vfile)
store = LocalStore(__import__("pathlib").Path(folder), int(dim), "flat")
done = [0] * int(threads)
latencies = [[] for _ in range(int(threads))]
stop = time.monotonic() + float(seconds)
def run(t):
    i = t
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        store.search_bm25(queries[i % len(queries)], 100)
        store.search_dense(vectors[i % len(vectors)], 100)
        latencies[t].append(time.perf_counter() - t0)
        done[t] += 1
        i += int(threads)
pool = [threading.Thread(target=run, args=(t,)) for t in range(int(threads))]
t0 = time.perf_counter()
for p in pool: p.start()
for p in pool: p.join()
wall = time.perf_counter() - t0
store.close()
lat = sorted(x for l in latencies for x in l)
print(json.dumps({"searches": sum(done), "wall": wall,
                  "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)]}))
"""


def measure(
    code_dir: Path, args: argparse.Namespace, threads: int, files: tuple[Path, Path]
) -> dict[str, float]:
    """One worker run: searches, wall seconds, p50 and p99 seconds."""
    cmd = [sys.executable, "-c", WORKER, str(args.kb), "384", str(threads), str(args.seconds)]
    done = subprocess.run(
        [*cmd, str(files[0]), str(files[1])],
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": "", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    if done.returncode:
        sys.exit(f"worker in {code_dir} failed: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Embed the claims once, then time both codes at each thread count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=cache_dir("api") / "kbs" / "scifact")
    parser.add_argument("--before", type=Path, required=True, help="older checkout's root")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    claims = list(load_beir(require_data("scifact")).queries.values())
    vectors = load_embedder(runtime="onnx", cache_dir=cache_dir("onnx")).embed(claims)
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / "q.json", Path(tmp) / "v.npy")
        files[0].write_text(json.dumps(claims))
        np.save(files[1], vectors)
        codes = {"after": REPO, "before": args.before}
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        for threads in args.threads:
            for r in range(args.rounds):
                order = list(codes) if r % 2 == 0 else list(codes)[::-1]
                for name in order:
                    runs.setdefault((name, threads), []).append(
                        measure(codes[name], args, threads, files)
                    )
    report = Report(
        "Hybrid reads of one local KB from many threads, store only",
        machine_info(),
        {"kb": str(args.kb), "seconds per run": args.seconds, "rounds": args.rounds},
    )
    table = Table(
        "bm25 k=100 + dense k=100 per search, query vectors precomputed",
        ["threads", "code", "searches/s", "p50 ms", "p99 ms", "after / before"],
    )
    for threads in args.threads:
        rates = {}
        for name in ("before", "after"):
            parts = runs[(name, threads)]
            rates[name] = sum(p["searches"] for p in parts) / sum(p["wall"] for p in parts)
            p50 = 1000 * float(np.median([p["p50"] for p in parts]))
            p99 = 1000 * max(p["p99"] for p in parts)
            ratio = f"{rates['after'] / rates['before']:.2f}x" if name == "after" else "-"
            table.rows.append([threads, name, rates[name], p50, p99, ratio])
    report.tables.append(table)
    report.notes.append(f"load average at the end: {load_average()}")
    report.emit(args.json)


if __name__ == "__main__":
    main()
