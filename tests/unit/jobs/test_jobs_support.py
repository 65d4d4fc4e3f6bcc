"""Helpers shared by the job tests (no tests here): a job manager on a real local KB.

The KB is real (SQLite + FAISS under tmp_path) with the hashing embedder; `SlowEmbedder`
makes a job take long enough, deterministically, to be cancelled or interrupted mid-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from api.metrics import Metrics
from controlplane.kbs import SqlRegistry
from controlplane.migrate import open_control_plane
from indexer.jobs.manager import JobManager
from indexer.jobs.model import FINAL_STATES, Job, JobTarget, new_job_id
from indexer.jobs.queue import JobQueue, build_huey
from indexer.jobs.store import JobStore
from indexer.jobs.worker import JobWorker
from rag.config import Settings
from rag.embedding.base import Vectors
from rag.embedding.fake import HashingEmbedder
from rag.pool import KBPool
from rag.tenancy import stored_name
from rag.workspace import Workspace

TENANT = "acme"
WAIT = 30.0  # seconds; reached only when something hangs


class SlowEmbedder(HashingEmbedder):
    """The hashing embedder, sleeping on every call: a job of many batches takes a while."""

    def __init__(self, delay: float = 0.0, fail_with: str | None = None) -> None:
        super().__init__(dim=32)
        self.delay = delay
        self.fail_with = fail_with
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        time.sleep(self.delay)
        self.texts += len(texts)
        return super().embed(texts)


@dataclass
class Env:
    """A manager, its KB pool and metrics, over one data directory."""

    settings: Settings
    kbs: KBPool
    metrics: Metrics
    jobs: JobManager
    worker: JobWorker
    control: Engine

    def start(self, threads: int = 2) -> None:
        """Start the worker as `rag serve` does (in process, on threads)."""
        self.worker.start(threads)

    def close(self) -> None:
        self.worker.stop()
        self.kbs.close()
        self.control.dispose()


def open_env(settings: Settings, embedder: HashingEmbedder) -> Env:
    """The API's and a worker's objects over one data directory (what `rag serve` builds)."""
    settings.api_dir.mkdir(parents=True, exist_ok=True)
    control = open_control_plane(settings)
    registry = SqlRegistry(control, settings.kb_root)
    kbs = KBPool(Workspace(settings, embedder=embedder, registry=registry))
    metrics = Metrics()
    store = JobStore(control)
    metrics.job.count_with(store.count_by_state)
    queue = JobQueue(build_huey(settings))
    jobs = JobManager(settings, store, queue)
    worker = JobWorker(settings, kbs, store, queue, metrics.job)
    return Env(settings, kbs, metrics, jobs, worker, control)


def create_kb(env: Env, name: str = "docs", tenant: str = TENANT) -> JobTarget:
    stored = stored_name(tenant, name)
    env.kbs.workspace.create(stored, chunk_tokens=48, chunk_overlap=4, tenant=tenant)
    return JobTarget(tenant=tenant, stored=stored, name=name)


def upload(env: Env, target: JobTarget, files: dict[str, bytes]) -> Job:
    """Submit files the way the route does: written to the job folder, then the job."""
    job_id = new_job_id()
    folder = env.jobs.upload_folder(job_id)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return env.jobs.submit_files(target, job_id, list(files))


def finished(job: Job) -> bool:
    return job.state in FINAL_STATES


def wait_for(
    env: Env, job_id: str, done: Callable[[Job], bool] = finished, tenant: str = TENANT
) -> Job:
    """Poll until `done(job)`; the job as it is then (or at the deadline)."""
    deadline = time.monotonic() + WAIT
    job = env.jobs.get(job_id, tenant)
    while not done(job) and time.monotonic() < deadline:
        time.sleep(0.01)
        job = env.jobs.get(job_id, tenant)
    return job


def uploads_removed(env: Env, job_id: str) -> bool:
    """Whether the job's upload folder goes (it is removed just after the final state is saved)."""
    folder = env.jobs.uploads / job_id
    deadline = time.monotonic() + WAIT
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not folder.exists()


def markdown_files(count: int) -> dict[str, bytes]:
    """`count` one-chunk markdown files with distinct words."""
    return {
        f"doc{n:03d}.md": f"# Note {n}\n\nword{n} appears in note number {n} only.".encode()
        for n in range(count)
    }


def stored_ids(env: Env, target: JobTarget) -> list[str]:
    return [d.id for d in env.kbs.get(target.stored).store.documents()]


def ingested(env: Env, stage: str) -> float:
    value = env.metrics.registry.get_sample_value("rag_ingest_items_total", {"stage": stage})
    return value or 0.0


def gauge(env: Env, state: str) -> float:
    value = env.metrics.registry.get_sample_value("rag_ingest_jobs", {"state": state})
    return value or 0.0


def closing(env: Env) -> Iterator[Env]:
    try:
        yield env
    finally:
        env.close()
