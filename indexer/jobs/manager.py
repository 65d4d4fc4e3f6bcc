"""The API's side of ingestion jobs: submit, read, cancel, fail a dropped KB's jobs.

Jobs live in the control plane's `jobs` table and their inputs in `<api_dir>/uploads/<job id>/`,
written before the job exists; a submitted job's id goes on the queue (`indexer.jobs.queue`) for
a worker (`indexer.jobs.worker`) in this process or another. Nothing here is held in memory, so
any API replica answers for any job.

Stopping: a queued job is ended at once (a conditional UPDATE: if a worker claimed it first, it is
asked to stop instead); a running one is asked to stop, and its worker ends it after the batch
being written (see `indexer.ingest`), as `cancelled` (or `failed` when its KB is deleted).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from indexer.jobs.errors import JobFinishedError, JobNotFoundError
from indexer.jobs.inputs import write_records
from indexer.jobs.model import RECORDS_FILE, Job, JobCounts, JobState, JobTarget, new_job_id
from indexer.jobs.queue import JobQueue
from indexer.jobs.store import JobStore
from rag.config import Settings
from rag.files import PRIVATE_DIR, private_dir

CANCEL_WAIT = 5.0  # seconds `cancel` waits for a running job to reach its stopping point
CLOSE_WAIT = 30.0  # seconds `forget_kb` waits for a running job (one batch: embed and write)
_POLL = 0.05


class JobManager:
    """Submits jobs to the queue and reads and stops them through the job store."""

    def __init__(self, settings: Settings, store: JobStore, queue: JobQueue) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.uploads = settings.api_dir / "uploads"

    # -- submitting ---------------------------------------------------------------------------

    def upload_folder(self, job_id: str) -> Path:
        """A new, empty folder for a job's uploads (the route streams files into it)."""
        folder = self.uploads / job_id
        private_dir(self.uploads)
        folder.mkdir(mode=PRIVATE_DIR)
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask
        return folder

    def discard_upload(self, job_id: str) -> None:
        """Remove a job's uploads (a refused upload, or a job that has ended)."""
        shutil.rmtree(self.uploads / job_id, ignore_errors=True)

    def submit_files(self, target: JobTarget, job_id: str, names: list[str]) -> Job:
        """Queue a job over the files already written to `upload_folder(job_id)`."""
        job = Job(
            id=job_id,
            tenant=target.tenant,
            kb=target.stored,
            kb_name=target.name,
            kind="files",
            inputs=list(names),
            counts=JobCounts(files=len(names)),
        )
        return self._submit(job)

    def submit_records(self, target: JobTarget, records: list[dict[str, Any]]) -> Job:
        """Queue a job over JSON records (`id`, `text`, `title`?, `metadata`?), kept as a file."""
        job_id = new_job_id()
        folder = self.upload_folder(job_id)
        try:
            write_records(folder / RECORDS_FILE, records)
        except BaseException:
            self.discard_upload(job_id)
            raise
        job = Job(
            id=job_id,
            tenant=target.tenant,
            kb=target.stored,
            kb_name=target.name,
            kind="records",
            inputs=[],
        )
        return self._submit(job)

    def _submit(self, job: Job) -> Job:
        # The row first: a worker that takes the message finds the job. Acknowledged (returned)
        # only once both are stored, so a replica that dies before that loses nothing promised.
        self.store.insert(job)
        self.queue.enqueue(job.id)
        return job

    # -- reading and stopping -----------------------------------------------------------------

    def get(self, job_id: str, tenant: str) -> Job:
        """The tenant's job; another tenant's job is reported exactly like a missing one."""
        job = self.store.get(job_id)
        if job is None or job.tenant != tenant:
            raise JobNotFoundError(job_id)
        return job

    def list(self, stored_kb: str, limit: int = 100, since: str | None = None) -> list[Job]:
        """A KB's most recent jobs, newest first.

        `since` (the KB's creation time) leaves out the jobs of an earlier KB of that name.
        """
        jobs = self.store.for_kb(stored_kb, limit)
        return jobs if since is None else [j for j in jobs if j.created_at >= since]

    def cancel(self, job_id: str, tenant: str) -> Job:
        """Cancel a queued job at once, a running one at its next safe point (waits briefly)."""
        job = self.get(job_id, tenant)
        if job.finished:
            raise JobFinishedError(f"job {job_id!r} has already finished ({job.state})")
        if self._stop(job, "cancelled", "cancelled before it started", "cancelled by request"):
            return self.get(job_id, tenant)
        return self._wait(job_id, CANCEL_WAIT) or self.get(job_id, tenant)

    def forget_kb(self, stored_kb: str, timeout: float = CLOSE_WAIT) -> None:
        """Fail a KB's unfinished jobs before the KB is dropped; a running one stops first."""
        running: list[str] = []
        for job in self.store.unfinished():
            if job.kb != stored_kb:
                continue
            message = f"knowledge base {job.kb_name!r} was deleted"
            if not self._stop(job, "failed", message, message):
                running.append(job.id)
        deadline = time.monotonic() + timeout
        for job_id in running:  # the KB's store must not close under a batch being written
            self._wait(job_id, max(deadline - time.monotonic(), 0.0))

    def _stop(self, job: Job, state: JobState, waiting: str, running: str) -> bool:
        """End a queued job now (True), or ask its worker to stop it (False)."""
        if self.store.end_if_queued(job, state, waiting):
            self.discard_upload(job.id)
            return True
        self.store.request_stop(job.id, state, running)
        return False

    def _wait(self, job_id: str, timeout: float) -> Job | None:
        """The job once it is no longer running, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.store.get(job_id)
            if job is None or job.state != "running":
                return job
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL)
