"""Runs one job's ingestion on the worker thread: inputs -> Ingestor -> store."""

from __future__ import annotations

from pathlib import Path

from indexer.ingest import IngestCancelled, Ingestor
from indexer.jobs.inputs import JobInputs
from indexer.jobs.model import Job
from indexer.jobs.progress import JobProgress
from rag.config import Settings
from rag.workspace import OpenKB


def run_job(job: Job, kb: OpenKB, folder: Path, settings: Settings, progress: JobProgress) -> bool:
    """Ingest the job's inputs into the KB; False when the progress observer stopped it.

    Documents already stored with the same content are skipped by the ingestor, so running a
    job again after an interruption only does the work that is left.
    """
    inputs = JobInputs(job, folder, progress.failed)
    ingestor = Ingestor.for_kb(kb, settings)
    try:
        ingestor.ingest_documents(inputs.documents(), progress=False, observer=progress)
    except IngestCancelled:
        return False
    progress.deleted(_delete_vanished(kb, inputs))
    return True


def _delete_vanished(kb: OpenKB, inputs: JobInputs) -> int:
    """Rows of a re-uploaded file (a CSV's rows, a .jsonl's records) its new version lacks.

    Only files that loaded without any failure count: a parse error must never delete what
    is already stored.
    """
    if not inputs.clean_sources:
        return 0
    gone = [
        d.id
        for d in kb.store.documents()
        if d.source in inputs.clean_sources and d.id not in inputs.seen
    ]
    if gone:
        kb.store.delete(gone)
        kb.store.flush()
    return len(gone)
