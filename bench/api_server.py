"""`rag serve` as a real subprocess on loopback, for load tests: start, wait ready, scrape, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.paths import REPO

RAG = str(Path(sys.executable).with_name("rag"))
# The load test would trip the per-key limits (everything is key "local" in no-auth mode).
UNLIMITED = str(10**9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One running `rag serve --no-auth` and where its log goes."""

    name: str
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_ready(self, timeout: float) -> float:
        """Poll /readyz until 200; seconds waited. Raises with the log tail if it dies first."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server {self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass  # not listening yet
            time.sleep(1.0)
        raise RuntimeError(f"server {self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def metrics(self, series: list[str]) -> list[float]:
        """The values of Prometheus series named in full (`name{label="v"}`); 0 when absent."""
        values = {}
        for line in httpx.get(f"{self.base}/metrics", timeout=30).text.splitlines():
            name, _, value = line.rpartition(" ")
            values[name] = value
        return [float(values.get(s, 0.0)) for s in series]

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> int:
        """Ctrl-C, as an operator would (graceful shutdown); killed if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    name: str,
    data_dir: Path,
    log: Path,
    env: dict[str, str],
    threads: int | None = None,
    *,
    keyed: bool = False,
) -> Server:
    """Launch `rag serve --no-auth` on a free loopback port with `env` over the defaults.

    With `threads`, the server runs its blocking work on that many threads
    (RAG_API_WORKER_THREADS) instead of the configured default; `keyed` drops `--no-auth`.
    """
    port = free_port()
    full_env = {
        **os.environ,
        "RAG_DATA_DIR": str(data_dir),
        "RAG_API_RATE_REQUESTS": UNLIMITED,
        "RAG_API_RATE_TOKENS": UNLIMITED,
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    if threads is not None:
        full_env["RAG_API_WORKER_THREADS"] = str(threads)
    cmd = [RAG, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if not keyed:
        cmd.append("--no-auth")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as fh:
        process = subprocess.Popen(cmd, env=full_env, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    return Server(name, f"http://127.0.0.1:{port}", process, log)
