"""`rag worker`: an ingestion worker process; a fleet shares one queue and control plane."""

from __future__ import annotations

import logging

import typer

from cli.common import reported_errors
from controlplane.kbs import SqlRegistry
from controlplane.migrate import open_control_plane
from rag.config import get_settings


def worker(
    threads: int = typer.Option(
        0, min=0, max=64, help="jobs run at once (default: RAG_INGEST_JOB_WORKERS, at least 1)"
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Run ingestion jobs from the queue (Redis with RAG_REDIS_URL) until SIGINT or SIGTERM."""
    from indexer.jobs.metrics import JobMetrics
    from indexer.jobs.queue import JobQueue, build_huey
    from indexer.jobs.store import JobStore
    from indexer.jobs.worker import JobWorker
    from rag.composition import configured_embedder
    from rag.pool import KBPool
    from rag.workspace import Workspace

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    with reported_errors():
        engine = open_control_plane(settings)
    embedder = configured_embedder(settings)
    registry = SqlRegistry(engine, settings.kb_root)
    kbs = KBPool(Workspace(settings, embedder=embedder, registry=registry))
    runner = JobWorker(
        settings, kbs, JobStore(engine), JobQueue(build_huey(settings)), JobMetrics()
    )
    try:
        runner.run(threads or settings.ingest_job_workers or 1)
    finally:
        kbs.close()
        engine.dispose()
