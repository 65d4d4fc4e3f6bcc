"""The scaled-out topology for real: two `rag serve` replicas and two `rag worker`s on loopback,
sharing PostgreSQL (control plane), Redis (queue and rate limits) and Elasticsearch (KBs).

Needs RAG_TEST_DATABASE_URL (a PostgreSQL URL whose user may create databases),
RAG_TEST_REDIS_URL and RAG_ES_URL; skips without them (CI's .ci/run starts all three). Each
run gets a database and an index prefix of its own. Real files, the real MiniLM in every
process, the packaged SmolLM2 (or vLLM with RAG_VLLM_URL) for the one answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import RAG, admin_key, fresh_database, serving
from sqlalchemy import create_engine, select

from controlplane.schema import jobs
from rag.generation.packaged_model import PACKAGED_NAME, packaged_model_dir

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]

RECORDS = 240  # one chunk each, two per batch: long enough to kill a worker mid-job
WAIT = 300.0
RATE = 100  # requests per minute per key, across both replicas


def needed(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (the scaled-out suite needs PostgreSQL, Redis and ES)")
    return value


@dataclass
class Topology:
    env: dict[str, str]
    database: str
    replicas: list[str]
    serve: list[subprocess.Popen[bytes]]
    workers: list[subprocess.Popen[bytes]]
    admin: str
    poller: str  # a second key for polling, so polls do not spend the admin key's limit
    logs: Path

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin}"}

    def poll(self, base: str, job_id: str, until: Callable[[dict[str, Any]], bool]) -> dict:  # type: ignore[type-arg]
        deadline = time.monotonic() + WAIT
        while True:
            job = httpx.get(
                f"{base}/v1/jobs/{job_id}", headers=self.headers(self.poller), timeout=30
            ).json()
            if until(job) or job["state"] in ("succeeded", "failed", "cancelled"):
                return job  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                pytest.fail(f"job did not get there in {WAIT} s: {job}")
            time.sleep(1.0)  # 60 polls a minute at most: under RATE


def _profiles() -> dict[str, object]:
    url = os.environ.get("RAG_VLLM_URL")
    if url:
        model = httpx.get(f"{url.rstrip('/')}/v1/models", timeout=5).json()["data"][0]["id"]
        return {"moe": {"backend": "vllm", "endpoint": url, "model": model, "max_tokens": 128}}
    return {"local": {"max_tokens": 64, "context_window": 1024}}


@pytest.fixture(scope="module")
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    pg, redis, es = (
        needed(n) for n in ("RAG_TEST_DATABASE_URL", "RAG_TEST_REDIS_URL", "RAG_ES_URL")
    )
    root = tmp_path_factory.mktemp("scaleout")
    data = root / "data"  # uploads only: on one machine this stands in for a shared volume
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    models = cache.mkdir("rag-models") if cache is not None else root / "models"
    (data / "cache" / "models").mkdir(parents=True)
    (data / "cache" / "models" / PACKAGED_NAME).symlink_to(
        packaged_model_dir(models), target_is_directory=True
    )
    profiles = _profiles()
    for database in fresh_database(pg, "rag_scaleout"):
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "RAG_DATA_DIR": str(data),
            "RAG_DATABASE_URL": database,
            "RAG_REDIS_URL": redis,
            "RAG_ES_URL": es,
            "RAG_ES_INDEX_PREFIX": f"rag-so{uuid.uuid4().hex[:8]}-",
            "RAG_API_JWT_SECRET": "s" * 40,  # one secret for every replica
            "RAG_API_RATE_REQUESTS": str(RATE),
            "RAG_JOB_LEASE_SECONDS": "4",
            "RAG_INGEST_BATCH_CHUNKS": "2",
            "RAG_INGEST_FLUSH_SECONDS": "0",
            "RAG_GENERATOR_PROFILES": json.dumps(profiles),
            "RAG_DEFAULT_PROFILE": next(iter(profiles)),
        }
        subprocess.run([RAG, "db", "upgrade"], env=env, check=True, capture_output=True)
        keys = [admin_key(env) for _ in range(2)]
        logs = root / "logs"
        logs.mkdir()
        workers = []
        for n in (1, 2):
            with (logs / f"worker{n}.log").open("ab") as out:
                workers.append(
                    subprocess.Popen(
                        [RAG, "worker", "--threads", "1"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        serve_env = env | {"RAG_INGEST_JOB_WORKERS": "0"}  # replicas only serve; workers ingest
        try:
            with (
                serving(serve_env, logs / "serve1.log", extra=(), timeout=240) as (p1, b1),
                serving(serve_env, logs / "serve2.log", extra=(), timeout=240) as (p2, b2),
            ):
                yield Topology(env, database, [b1, b2], [p1, p2], workers, keys[0], keys[1], logs)
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in workers:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for base_kb in ("facts", "notes", "burst"):  # the ES indexes of this run
                subprocess.run([RAG, "kb", "drop", f"acme__{base_kb}", "--yes"], env=env,
                               capture_output=True)  # fmt: skip


def create_kb(top: Topology, name: str) -> None:
    response = httpx.post(
        f"{top.replicas[0]}/v1/kbs",
        json={"name": name, "engine": "elasticsearch"},
        headers=top.headers(),
        timeout=60,
    )
    assert response.status_code == 201, response.text


def upload(top: Topology, base: str, kb: str, files: dict[str, bytes]) -> dict:  # type: ignore[type-arg]
    response = httpx.post(
        f"{base}/v1/kbs/{kb}/documents",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files.items()],
        headers=top.headers(),
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_kb_filled_through_one_replica_is_searched_and_answered_through_the_other(
    topology: Topology,
) -> None:
    r1, r2 = topology.replicas
    create_kb(topology, "facts")
    files = {
        "tides.md": b"# Tides\n\nThe moon's gravity pulls the oceans and causes two tides a day.",
        "copper.md": b"# Copper\n\nCopper conducts electricity well, so wires are copper.",
    }
    job = upload(topology, r1, "facts", files)
    done = topology.poll(r2, job["id"], lambda j: False)  # read through the other replica
    assert done["state"] == "succeeded" and done["counts"]["indexed"] >= 2, done

    hits = httpx.post(
        f"{r2}/v1/kbs/facts/search",
        json={"query": "why are wires made of copper", "mode": "hybrid", "k": 1},
        headers=topology.headers(),
        timeout=60,
    ).json()["data"]
    assert hits[0]["doc_id"] == "copper.md"
    answer = httpx.post(
        f"{r2}/v1/kbs/facts/answer",
        json={"question": "What causes tides?", "max_tokens": 64},
        headers=topology.headers(),
        timeout=300,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] in ("answered", "model_abstained")


def test_a_worker_killed_mid_job_leaves_it_to_the_other(topology: Topology) -> None:
    r1, r2 = topology.replicas
    create_kb(topology, "notes")
    lines = [
        json.dumps({"id": f"rec{n:03d}", "text": f"Record {n} is about topic{n} and item{n % 7}."})
        for n in range(RECORDS)
    ]
    job = upload(topology, r1, "notes", {"notes.jsonl": "\n".join(lines).encode()})
    running = topology.poll(r2, job["id"], lambda j: j["counts"]["indexed"] >= 10)
    assert running["state"] == "running", running

    engine = create_engine(topology.database)
    with engine.connect() as conn:
        owner = conn.execute(select(jobs.c.lease_owner).where(jobs.c.id == job["id"])).scalar()
    engine.dispose()
    pid = int(str(owner).split(":")[-2])
    victim = next(w for w in topology.workers if w.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    done = topology.poll(r1, job["id"], lambda j: False)
    assert done["state"] == "succeeded" and done["resumed"] == 1, done
    assert done["counts"]["unchanged"] >= 10  # what the killed worker wrote is not redone
    kb = httpx.get(f"{r2}/v1/kbs/notes", headers=topology.headers(), timeout=30).json()
    assert kb["documents"] == RECORDS and kb["chunks"] == RECORDS  # every record exactly once


def test_a_key_revoked_through_one_replica_is_refused_by_the_other(topology: Topology) -> None:
    r1, r2 = topology.replicas
    created = httpx.post(
        f"{r1}/v1/keys", json={"scopes": ["read"]}, headers=topology.headers(), timeout=30
    )
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["key_id"]
    assert httpx.get(f"{r2}/v1/kbs", headers=topology.headers(key), timeout=30).status_code == 200

    revoked = httpx.post(f"{r1}/v1/keys/{key_id}/revoke", headers=topology.headers(), timeout=30)
    assert revoked.status_code == 200, revoked.text
    refused = httpx.get(f"{r2}/v1/kbs", headers=topology.headers(key), timeout=30)
    assert refused.status_code == 401, refused.text


def test_a_keys_rate_limit_is_one_limit_across_replicas(topology: Topology) -> None:
    r1, r2 = topology.replicas
    created = httpx.post(
        f"{r1}/v1/keys", json={"scopes": ["read"]}, headers=topology.headers(), timeout=30
    ).json()
    key = created["key"]
    with httpx.Client(headers=topology.headers(key), timeout=30) as client:
        codes = [client.get(f"{(r1, r2)[n % 2]}/v1/kbs").status_code for n in range(RATE)]
        assert codes == [200] * RATE  # half on each replica: the whole allowance
        for base in (r1, r2):
            over = client.get(f"{base}/v1/kbs")
            assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1


def test_a_replica_killed_mid_request_loses_nothing_acknowledged(topology: Topology) -> None:
    r1, r2 = topology.replicas
    create_kb(topology, "burst")
    acknowledged: list[tuple[str, str]] = []

    def submit() -> None:
        for n in range(200):
            name = f"note{n:03d}.md"
            try:
                response = httpx.post(
                    f"{r1}/v1/kbs/burst/documents",
                    files=[
                        ("files", (name, f"# Note {n}\n\nburst word{n}".encode(), "text/plain"))
                    ],
                    headers=topology.headers(),
                    timeout=30,
                )
            except httpx.HTTPError:
                return  # the replica is gone
            if response.status_code == 202:
                acknowledged.append((response.json()["id"], name))

    thread = threading.Thread(target=submit)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    topology.serve[0].send_signal(signal.SIGKILL)
    thread.join(timeout=60)
    assert len(acknowledged) >= 5

    for job_id, _ in acknowledged:
        assert topology.poll(r2, job_id, lambda j: False)["state"] == "succeeded"
    page = httpx.get(
        f"{r2}/v1/kbs/burst/documents", params={"limit": 1000}, headers=topology.headers(),
        timeout=30,
    ).json()  # fmt: skip
    stored = {d["id"] for d in page["data"]}
    assert {name for _, name in acknowledged} <= stored
