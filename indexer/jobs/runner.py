"""Runs one job's ingestion on the worker thread: inputs -> Ingestor -> store."""

from __future__ import annotations

from pathlib import Path

from indexer.ingest import IngestCancelled, Ingestor
from indexer.jobs.inputs import JobInputs
from indexer.jobs.model import Job
from indexer.jobs.progress import JobProgress
from indexer.loaders import ParsePool
from rag.config import Settings
from rag.workspace import OpenKB


def run_job(
    job: Job,
    kb: OpenKB,
    folder: Path,
    settings: Settings,
    progress: JobProgress,
    pool: ParsePool | None = None,
) -> bool:
    """Ingest the job's inputs into the KB; False when the progress observer stopped it.

    Documents already stored with the same content are skipped by the ingestor, so running a
    job again after an interruption only does the work that is left. Rows a re-uploaded file
    no longer has are deleted, unless that file failed to load, whole or in part.
    """
    inputs = JobInputs(job, folder, progress.failed, pool)
    ingestor = Ingestor.for_kb(kb, settings)
    try:
        result = ingestor.sync(inputs.items(), inputs.scope(), progress=False, observer=progress)
    except IngestCancelled:
        return False
    progress.deleted(result.deleted)
    return True
