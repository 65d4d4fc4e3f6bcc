"""Cold `rag search` or `rag ask` on the sample KB: the torch runtime vs ONNX, or code vs code.

Each call is a fresh interpreter, as a script that runs the command in a loop sees it. The
variants alternate call by call, so other jobs' load falls on all alike. By default the two
embedding runtimes are compared (torch is what every call paid before ONNX); `--before DIR`
compares an older checkout's code with this one instead, both on `--runtime`: each call runs
in its code's folder, which `python -m cli` puts first on sys.path (as bench.store_reads does).
The sample KB (this repository's docs and README, what `make run` serves) is built once under
the bench cache, by this checkout's code.

    nice -n 10 .venv/bin/python -m bench.cli_start --calls 5
    git archive main rag indexer api cli controlplane evaluation | tar -x -C /tmp/before
    nice -n 10 .venv/bin/python -m bench.cli_start --command ask --before /tmp/before
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.machine import machine_info
from bench.paths import REPO, cache_dir
from bench.report import Report, Table

QUERY = "how are vectors stored"
RUNTIMES = ("torch", "onnx")


@dataclass(frozen=True)
class Variant:
    """One way of running the command: a row of the table and the environment it adds."""

    label: str
    env: dict[str, str] = field(default_factory=dict)
    code: Path = REPO  # the folder whose packages run


def _rag(env: dict[str, str], *args: str, code: Path = REPO) -> float:
    """Seconds of wall time for one `rag` call of `code`'s packages; exits on failure."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"rag {' '.join(args)} failed: {done.stderr}")
    return seconds


def variants(before: Path | None, runtime: str) -> list[Variant]:
    """The rows to compare; the first is the baseline the ratios divide by."""
    if before is None:
        return [Variant(r, {"RAG_EMBED_RUNTIME": r}) for r in RUNTIMES]
    if not (before / "cli" / "__main__.py").is_file():
        sys.exit(f"--before {before}: no cli/__main__.py there (extract a checkout's packages)")
    return [
        Variant("before", {"RAG_EMBED_RUNTIME": runtime}, before),
        Variant("this checkout", {"RAG_EMBED_RUNTIME": runtime}),
    ]


def main() -> None:
    """Build the sample KB if needed, then time alternating cold calls."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5, help="cold calls per variant")
    parser.add_argument("--command", choices=["search", "ask"], default="search")
    parser.add_argument("--before", type=Path, help="an older checkout's code to compare with")
    parser.add_argument("--runtime", default="onnx", help="RAG_EMBED_RUNTIME with --before")
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
    rows = variants(args.before.resolve() if args.before else None, args.runtime)
    command = (args.command, "sample", QUERY, "-k", "5")
    seconds: dict[str, list[float]] = {v.label: [] for v in rows}
    for v in rows:  # untimed: the first call after a build warms the page cache
        _rag({**env, **v.env}, *command, code=v.code)
    for _ in range(args.calls):
        for v in rows:
            seconds[v.label].append(_rag({**env, **v.env}, *command, code=v.code))

    params: dict[str, object] = {"command": " ".join(command), "calls": args.calls}
    if args.before:
        params |= {"before": str(args.before), "runtime": args.runtime}
    report = Report(f"Cold `rag {args.command}` on the sample KB", machine_info(), params)
    table = Table(
        "Wall seconds per call (fresh interpreter each)",
        ["variant", "median s", "min s", "max s", f"x {rows[0].label} (median)"],
    )
    base = statistics.median(seconds[rows[0].label])
    for label, values in seconds.items():
        median = statistics.median(values)
        table.rows.append([label, median, min(values), max(values), base / median])
    report.tables.append(table)
    report.emit(args.json)


if __name__ == "__main__":
    main()
