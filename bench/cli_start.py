"""Cold `rag search` on the sample KB: the torch runtime (what every call paid before) vs ONNX.

Each call is a fresh interpreter, as a script that runs `rag search` in a loop sees it. The two
runtimes alternate call by call, so other jobs' load falls on both alike. The sample KB (this
repository's docs and README, what `make run` serves) is built once under the bench cache.

    nice -n 10 .venv/bin/python -m bench.cli_start --calls 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.machine import machine_info
from bench.paths import REPO, cache_dir
from bench.report import Report, Table

QUERY = "how are vectors stored"
RUNTIMES = ("torch", "onnx")


def _rag(env: dict[str, str], *args: str) -> float:
    """Seconds of wall time for one `rag` call; exits on failure."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"rag {' '.join(args)} failed: {done.stderr}")
    return seconds


def main() -> None:
    """Build the sample KB if needed, then time alternating cold searches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5, help="cold calls per runtime")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    data = cache_dir("cli-start")
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(data),
        "RAG_EMBED_CACHE_DIR": str(cache_dir("onnx")),
        "HF_HUB_OFFLINE": "1",
    }
    if not (data / "kbs" / "sample").exists():
        _rag(env, "kb", "create", "sample")
        _rag(env, "ingest", "sample", str(REPO / "docs"), str(REPO / "README.md"), "--sync")
    seconds: dict[str, list[float]] = {r: [] for r in RUNTIMES}
    for runtime in RUNTIMES:  # untimed: the first call after a build warms the page cache
        _rag({**env, "RAG_EMBED_RUNTIME": runtime}, "search", "sample", QUERY)
    for _ in range(args.calls):
        for runtime in RUNTIMES:
            run_env = {**env, "RAG_EMBED_RUNTIME": runtime}
            seconds[runtime].append(_rag(run_env, "search", "sample", QUERY, "-k", "5"))

    report = Report("Cold `rag search` on the sample KB", machine_info(), {"calls": args.calls})
    table = Table(
        "Wall seconds per call (fresh interpreter each)",
        ["runtime", "median s", "min s", "max s", "x torch (median)"],
    )
    base = statistics.median(seconds["torch"])
    for runtime, values in seconds.items():
        median = statistics.median(values)
        table.rows.append([runtime, median, min(values), max(values), base / median])
    report.tables.append(table)
    report.emit(args.json)


if __name__ == "__main__":
    main()
