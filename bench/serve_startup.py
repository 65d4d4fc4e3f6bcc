"""How fast the embedded `rag serve` starts: this checkout beside an older one, runs interleaved.

The control plane (SQLAlchemy, Alembic on first open) and the job queue (Huey) are new work at
start; this measures what they cost. Each run starts `python -m cli serve --no-auth` on a free
loopback port and times the first answered `GET /v1/kbs` (the control plane and the KB registry
in use), on a fresh data directory and on one a previous start left. The older checkout's code
is served by the same interpreter with PYTHONPATH pointing at it (`--before DIR`, e.g. a
`git archive` of main unpacked).

    nice -n 10 .venv/bin/python -m bench.serve_startup --before /tmp/main-code --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.api_server import free_port
from bench.machine import machine_info
from bench.paths import REPO
from bench.report import Report, Table

READY_TIMEOUT = 300.0


def start_seconds(code: Path, data: Path, log: Path) -> float:
    """Seconds from launch to the first 200 of GET /v1/kbs; the server is stopped after."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "RAG_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        # A generator that is never called, so neither run loads or warms the local model.
        "RAG_GENERATOR_PROFILES": json.dumps(
            {"remote": {"backend": "vllm", "endpoint": "http://127.0.0.1:9", "model": "none"}}
        ),
        "RAG_DEFAULT_PROFILE": "remote",
    }
    t0 = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--no-auth", "--port", str(port)],
            env=env, cwd=code, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/kbs", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > READY_TIMEOUT:
                raise RuntimeError(f"not ready in {READY_TIMEOUT} s: {log.read_text()[-2000:]}")
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout's root")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    codes = {"before": args.before.resolve(), "this": REPO}
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for run in range(args.runs):
            for name, code in codes.items():  # interleaved: load drifts hit both alike
                data = root / f"{name}-{run}"
                log = root / f"{name}.log"
                for when in ("fresh data dir", "second start"):
                    seconds = start_seconds(code, data, log)
                    times.setdefault((name, when), []).append(seconds)
                    print(f"{name} {when} run {run}: {seconds:.2f} s", file=sys.stderr)
    table = Table(
        "Time to the first answered GET /v1/kbs (s)",
        ["start", "before: median", "before: runs", "this: median", "this: runs", "this / before"],
    )
    for when in ("fresh data dir", "second start"):
        before, this = times[("before", when)], times[("this", when)]
        table.rows.append([
            when,
            round(statistics.median(before), 2), " ".join(f"{t:.2f}" for t in before),
            round(statistics.median(this), 2), " ".join(f"{t:.2f}" for t in this),
            round(statistics.median(this) / statistics.median(before), 2),
        ])  # fmt: skip
    Report(
        "Embedded rag serve start-up",
        machine_info(),
        {"runs": args.runs, "before": str(args.before)},
        [table],
    ).emit(args.json)


if __name__ == "__main__":
    main()
