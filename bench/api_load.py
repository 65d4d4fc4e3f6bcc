"""HTTP load on a real `rag serve`: search and answer at fixed concurrencies, batching off vs on.

Servers run side by side on loopback over the same SciFact KB (`bench.api_kb`): `rag serve`
with query micro-batching off (RAG_EMBED_BATCHING=0) and on, and, with `--threads N`,
the same pair with N worker threads (RAG_API_WORKER_THREADS) instead of the default 64, to
show how the thread pool caps the batches. A level is a fixed number of requests sent by C
concurrent httpx clients, each sending its next request when its last one returned (closed
loop). Each level is split into rounds that visit every server in turn, the order reversed
every other round, so a burst of load from other jobs on the machine hits all servers alike;
every round starts with an untimed warm-up of C requests. Throughput is requests over the
rounds' summed wall time; latency is per request as the client saw it. Answers go through the
local generator, which runs one generation at a time, so they run once, on `rag serve` with
batching on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

from bench.api_drive import Level, drive
from bench.api_kb import KB_NAME, ensure_kb
from bench.api_server import Server, start_server
from bench.machine import load_average, machine_info
from bench.paths import cache_dir, require_data
from bench.report import Cell, Report, Table
from evaluation.beir import load_beir

SEARCH_HEADERS = [
    "clients",
    "server",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "5xx",
    "other non-2xx",
    "in-search ms",
    "mean embed batch",
    "on/off req/s",
]
ANSWER_HEADERS = [
    "clients",
    "requests",
    "req/s",
    "p50 s",
    "p95 s",
    "p99 s",
    "5xx",
    "other non-2xx",
    "outcomes",
    "tokens/answer",
]


@dataclass(frozen=True)
class Variant:
    """One server configuration: batching on or off, and its thread pool."""

    batching: bool
    threads: int | None = None  # None: `rag serve` with its default worker threads
    before: bool = False  # True: the code of `--before DIR` (an older checkout) serves

    @property
    def name(self) -> str:
        pool = "rag serve" if self.threads is None else f"{self.threads} threads"
        return f"{'before: ' if self.before else ''}{'on' if self.batching else 'off'}, {pool}"

    @property
    def slug(self) -> str:
        code = "before-" if self.before else ""
        return f"{code}{'on' if self.batching else 'off'}-{self.threads or 'default'}"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Bench:
    """The parsed options and what the run collects besides the tables."""

    args: argparse.Namespace
    queries: list[str]
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record_failures(self, what: str, level: Level) -> None:
        if level.server_errors or level.other_failures:
            statuses = dict(sorted(level.statuses.items()))
            self.failures.append(f"{what}: statuses {statuses}; first bodies: {level.samples}")

    async def search_round(
        self, client: httpx.AsyncClient, server: Server, mode: str, clients: int, requests: int
    ) -> tuple[Level, np.ndarray]:
        """Warm up, then `requests` searches; the Level and the server's counter deltas."""
        url = f"{server.base}/v1/kbs/{KB_NAME}/search"

        def send(i: int) -> Awaitable[httpx.Response]:
            body = {"query": self.queries[i % len(self.queries)], "mode": mode, "k": 10}
            return client.post(url, json=body)

        def warm(i: int) -> Awaitable[httpx.Response]:
            body = {"query": self.queries[-1 - i % len(self.queries)], "mode": mode, "k": 10}
            return client.post(url, json=body)

        series = [
            "rag_embed_batches",
            "rag_embed_texts",
            f'rag_retrieval_seconds_sum{{mode="{mode}"}}',
            f'rag_retrieval_seconds_count{{mode="{mode}"}}',
        ]
        await drive(warm, max(clients, 4), clients)
        before = np.asarray(server.metrics(series))
        level = await drive(send, requests, clients)
        return level, np.asarray(server.metrics(series)) - before

    async def search_table(
        self, client: httpx.AsyncClient, servers: dict[Variant, Server], mode: str
    ) -> Table:
        """Every concurrency level on every server, in alternating rounds."""
        n, rounds = self.args.search_requests, self.args.rounds
        title = f"search, mode {mode}, k=10: {n} requests per row, in {rounds} rounds"
        table = Table(title, SEARCH_HEADERS)
        for clients in self.args.concurrency:
            parts: dict[Variant, list[Level]] = {v: [] for v in servers}
            counters = {v: np.zeros(4) for v in servers}
            for r in range(rounds):
                order = list(servers) if r % 2 == 0 else list(servers)[::-1]
                for variant in order:
                    share = n // rounds + (1 if r < n % rounds else 0)
                    level, deltas = await self.search_round(
                        client, servers[variant], mode, clients, share
                    )
                    parts[variant].append(level)
                    counters[variant] += deltas
            levels = {v: Level.merge(p) for v, p in parts.items()}
            for variant, level in levels.items():
                self.record_failures(f"search {mode} c={clients} {variant.name}", level)
                batches, texts, in_search, searches = counters[variant]
                # Time inside Retriever.search (embed, FAISS, BM25, fusion) per request as
                # the server measured it; the rest is HTTP, JSON, pool queueing, the client.
                in_search_ms: Cell = 1000.0 * in_search / searches if searches else "-"
                batch: Cell = f"{texts / batches:.2f}" if batches else "-"
                ratio: Cell = "-"
                off = Variant(False, variant.threads, variant.before)
                if variant.batching and off in levels:
                    ratio = f"{level.throughput / levels[off].throughput:.2f}x"
                p50, p95, p99 = level.percentiles(1000.0)
                rate = level.throughput
                failures = [level.server_errors, level.other_failures]
                table.rows.append([clients, variant.name, rate, p50, p95, p99, *failures])
                table.rows[-1] += [in_search_ms, batch, ratio]
                progress(
                    f"search {mode} c={clients} {variant.name}: {rate:.1f} req/s, p50 "
                    f"{p50:.0f} ms, batch {batch}, statuses {dict(level.statuses)}"
                )
        return table

    async def answer_table(
        self, client: httpx.AsyncClient, server: Server, profile: str | None
    ) -> Table:
        """Answers at each concurrency through `profile` (None: the KB's default profile).

        The levels share a time budget: a level whose requests would not fit (estimated from
        the previous level's seconds per answer) is cut down, or skipped if fewer requests
        than clients would fit; the report says so.
        """
        name = profile or "local (default)"
        title = f"answer, profile {name}, max_tokens {self.args.max_tokens}, rag serve, batching on"
        table = Table(title, ANSWER_HEADERS)
        outcomes: Counter[str] = Counter()
        tokens: list[int] = []

        def on_ok(response: httpx.Response) -> None:
            answer = response.json()
            outcomes[str(answer.get("outcome"))] += 1
            tokens.append(int((answer.get("usage") or {}).get("completion_tokens") or 0))

        def sender(offset: int) -> Callable[[int], Awaitable[httpx.Response]]:
            def send(i: int) -> Awaitable[httpx.Response]:
                body: dict[str, object] = {
                    "question": self.queries[(offset + i) % len(self.queries)],
                    "max_tokens": self.args.max_tokens,
                }
                if profile:
                    body["profile"] = profile
                return client.post(f"{server.base}/v1/kbs/{KB_NAME}/answer", json=body)

            return send

        started = time.perf_counter()
        # Untimed: the first generation pays for lazy set-up (grammar compilation, caches).
        warm = await drive(sender(len(self.queries) // 2), 2, 1)
        self.record_failures(f"answer warm-up ({name})", warm)
        answered = warm.requests
        start = 0  # every measured answer asks a question not asked before in this run
        for clients, wanted in zip(self.args.concurrency, self.args.answer_requests, strict=True):
            spent = time.perf_counter() - started
            # One generation at a time: the mean so far predicts the next level's cost.
            per_answer = spent / answered
            left = self.args.answer_budget - spent
            n = min(wanted, int(left / per_answer))
            if n < min(clients, wanted):
                self.notes.append(
                    f"answers at {clients} clients skipped: {wanted} answers at about "
                    f"{per_answer:.0f} s each would not fit the {self.args.answer_budget:.0f} s "
                    f"budget ({max(left, 0):.0f} s left)"
                )
                continue
            if n < wanted:
                self.notes.append(f"answers at {clients} clients cut from {wanted} to {n}")
            outcomes.clear()
            tokens.clear()
            level = await drive(sender(start), n, clients, on_ok)
            start += n
            answered += n
            self.record_failures(f"answer {name} c={clients}", level)
            seen = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "-"
            mean_tokens: Cell = f"{np.mean(tokens):.0f}" if tokens else "-"
            latency = level.percentiles(1.0)
            failures = [level.server_errors, level.other_failures]
            rate = level.throughput
            table.rows.append([clients, n, rate, *latency, *failures, seen, mean_tokens])
            progress(
                f"answer {name} c={clients}: {rate:.3f} req/s, p50 {latency[0]:.1f} s, "
                f"statuses {dict(level.statuses)}"
            )
        return table


def vllm_profiles(url: str, max_tokens: int) -> str:
    """RAG_GENERATOR_PROFILES adding profile `vllm` for the server at `url` (its first model)."""
    model = httpx.get(f"{url.rstrip('/')}/v1/models", timeout=10).json()["data"][0]["id"]
    profile = {"backend": "vllm", "endpoint": url, "model": model, "max_tokens": max_tokens}
    return json.dumps({"vllm": profile})


def log_errors(server: Server) -> list[str]:
    """The server log's error lines (JSON logs at level error or critical, or tracebacks)."""
    found = []
    for line in server.log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if "Traceback" in line or "Error" in line:
                found.append(line[:300])
            continue
        if isinstance(record, dict) and record.get("level") in ("error", "critical"):
            exc = str(record.get("exception", "")).strip().splitlines()
            found.append(f"{record.get('message')} {exc[-1] if exc else ''}"[:300])
    return found


async def measure(bench: Bench, servers: dict[Variant, Server]) -> list[Table]:
    args = bench.args
    limits = httpx.Limits(max_connections=max(args.concurrency) + 8)
    async with httpx.AsyncClient(limits=limits, timeout=args.client_timeout) as client:
        tables = [await bench.search_table(client, servers, mode) for mode in args.modes]
        answering = servers[Variant(True)]
        if any(args.answer_requests):
            tables.append(await bench.answer_table(client, answering, None))
        if args.vllm:
            tables.append(await bench.answer_table(client, answering, "vllm"))
    return tables


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--docs", type=int, default=1000, help="SciFact abstracts in the KB")
    add("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    add("--search-requests", type=int, default=256, help="per level and server")
    add("--rounds", type=int, default=2, help="rounds each search level is split into")
    add("--modes", nargs="+", default=["hybrid", "dense"], choices=["hybrid", "dense", "bm25"])
    add("--threads", type=int, default=0, help="worker threads of an extra pair (0: none)")
    add(
        "--before",
        help="an older checkout of this repo: its code serves an extra pair (PYTHONPATH), so a "
        "change is measured against what came before it in one run",
    )
    add("--runtime", help="RAG_EMBED_RUNTIME of every server (default: the service's)")
    add(
        "--answer-requests",
        type=int,
        nargs="*",
        default=[4, 8, 32],
        help="answers per --concurrency level (0 skips a level; none: no answers)",
    )
    add("--answer-budget", type=float, default=480.0, help="seconds for all answer levels")
    add("--max-tokens", type=int, default=96, help="answer budget in tokens")
    add("--window-ms", type=float, default=0.0, help="batching window when on")
    add("--request-timeout", type=float, help="RAG_API_REQUEST_TIMEOUT (default: the service's)")
    add("--client-timeout", type=float, default=1200.0)
    add("--ready-timeout", type=float, default=900.0, help="the first start converts a model")
    add("--vllm", action="store_true", help="also answer through a vLLM profile at $RAG_VLLM_URL")
    add("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    if args.answer_requests and len(args.answer_requests) != len(args.concurrency):
        parser.error("--answer-requests needs one number per --concurrency level")
    if args.vllm and not os.environ.get("RAG_VLLM_URL"):
        parser.error("--vllm needs RAG_VLLM_URL (start one with `bash scripts/vllm.sh start`)")
    if args.vllm and not args.answer_requests:
        parser.error("--vllm runs the answer levels: give --answer-requests")
    return args


def start_all(args: argparse.Namespace, variants: list[Variant]) -> dict[Variant, Server]:
    """Start every variant's server, one at a time (the first converts the packaged model)."""
    data_dir = cache_dir("api")
    env: dict[str, str] = {}
    if args.request_timeout:
        env["RAG_API_REQUEST_TIMEOUT"] = str(args.request_timeout)
    servers: dict[Variant, Server] = {}
    try:
        for v in variants:
            extra = {
                **env,
                "RAG_EMBED_BATCHING": "1" if v.batching else "0",
                "RAG_EMBED_BATCH_WINDOW_MS": str(args.window_ms),
            }
            if args.runtime:
                extra["RAG_EMBED_RUNTIME"] = args.runtime
            if v.before:
                extra["PYTHONPATH"] = args.before
            if args.vllm and v == Variant(True):
                extra["RAG_GENERATOR_PROFILES"] = vllm_profiles(
                    os.environ["RAG_VLLM_URL"], args.max_tokens
                )
            log = data_dir / "logs" / f"serve-{v.slug}.log"
            servers[v] = start_server(v.slug, data_dir, log, extra, v.threads)
            seconds = servers[v].wait_ready(args.ready_timeout)
            progress(f"server {v.name} ready after {seconds:.0f} s at {servers[v].base}")
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def main() -> None:
    """Build or reuse the KB, start the servers, measure, stop them, print the report."""
    args = parse_args()
    machine = machine_info()
    data_dir = cache_dir("api")
    progress(f"KB in {data_dir} ...")
    kb = ensure_kb(data_dir, args.docs)
    queries = list(load_beir(require_data("scifact")).queries.values())
    bench = Bench(args, queries)
    variants = [Variant(False), Variant(True)]
    if args.threads:
        variants += [Variant(False, args.threads), Variant(True, args.threads)]
    if args.before:
        variants += [Variant(False, before=True), Variant(True, before=True)]
    servers = start_all(args, variants)
    try:
        start_load = load_average()
        t0 = time.perf_counter()
        tables = asyncio.run(measure(bench, servers))
        seconds = time.perf_counter() - t0
    finally:
        codes = {v.name: s.stop() for v, s in servers.items()}
    window = f"{args.window_ms:g} ms window, at most 64 texts"
    report = Report(
        "HTTP API under load: rag serve on loopback",
        machine,
        {
            "KB": f"{kb['documents']} SciFact abstracts, {kb['chunks']} chunks, flat index",
            "KB built with": kb["built_with"],
            "queries": f"the {len(queries)} SciFact test claims, in order",
            "clients": "one httpx.AsyncClient process on the same machine, closed loop",
            "batching": f"off: RAG_EMBED_BATCHING=0; on: {window}",
            "servers": "; ".join(v.name for v in variants),
        },
        tables,
    )
    report.notes += bench.notes
    report.notes.append(f"load average at the start of the load: {start_load}")
    report.notes.append(f"load average at the end: {load_average()}")
    report.notes.append(f"load phase: {seconds / 60:.1f} min")
    report.notes.append(f"server exit codes: {codes}; logs in {data_dir / 'logs'}")
    report.notes += [f"failed requests: {f}" for f in bench.failures]
    for variant, server in servers.items():
        report.notes += [f"{variant.name} log: {line}" for line in log_errors(server)[:10]]
    report.emit(args.json)


if __name__ == "__main__":
    main()
