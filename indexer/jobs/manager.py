"""The ingestion job manager: submit, run in the background, cancel, resume.

Jobs live in SQLite (`<api_dir>/jobs.db`) and their inputs in `<api_dir>/uploads/<job id>/`,
written before the job exists, so a restarted service finds everything a job needs. A few
worker threads (`RAG_INGEST_JOB_WORKERS`) take jobs from a `FairQueue`: the tenant with the
fewest running jobs goes first and a KB has one job at a time, so one tenant's large job does
not hold back another tenant's small one. The workers share one pool of parse processes.

Stopping: a cancelled job stops after the batch being written (see `indexer.ingest`) and ends
`cancelled`; `close()` stops the running job the same way but leaves it `running`, and `start()`
queues every `queued` or `running` job again (`resumed` counts how often). The ingestor skips
documents whose content is already stored, so a resumed job redoes no finished work; its counts
start over, with the documents the earlier run wrote counted as `unchanged`.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from indexer.jobs.errors import JobFinishedError, JobNotFoundError
from indexer.jobs.fair_queue import FairQueue
from indexer.jobs.inputs import write_records
from indexer.jobs.metrics import JobMetrics
from indexer.jobs.model import (
    JOB_STATES,
    RECORDS_FILE,
    Job,
    JobCounts,
    JobState,
    JobTarget,
    JobTimings,
    new_job_id,
    now,
)
from indexer.jobs.progress import JobProgress
from indexer.jobs.runner import run_job
from indexer.jobs.store import JobStore
from indexer.loaders import ParsePool
from indexer.settings import parse_settings
from rag.config import Settings
from rag.errors import (
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
    KBNotFoundError,
    LoaderError,
)
from rag.files import PRIVATE_DIR, private_dir
from rag.pool import KBPool
from rag.tenancy import unqualified
from rag.workspace import OpenKB

log = logging.getLogger("indexer.jobs")

CANCEL_WAIT = 5.0  # seconds `cancel` waits for a running job to reach its stopping point
CLOSE_WAIT = 30.0  # seconds `close` waits for the worker (one batch: embed and write)


class _JobFailed(Exception):
    """An expected reason for a job to fail; its message is the job's message, no traceback."""


class JobManager:
    """Owns the job store, the upload folders and the worker thread."""

    def __init__(self, settings: Settings, kbs: KBPool, metrics: JobMetrics) -> None:
        self.settings = settings
        self.kbs = kbs
        self.metrics = metrics
        self.uploads = settings.api_dir / "uploads"
        self.store = JobStore(settings.api_dir / "jobs.db")
        self._lock = threading.Lock()  # guards the live job and the dicts below
        self._queue = FairQueue()
        self.parse_pool = ParsePool(parse_settings(settings))  # its workers start on first use
        self._live: dict[str, Job] = {}  # the running job, as its progress updates it
        self._cancel: dict[str, threading.Event] = {}
        self._outcome: dict[str, tuple[JobState, str]] = {}  # how a stopped job ends
        self._done: dict[str, threading.Event] = {}
        self._submitted: set[str] = set()  # by this process (not to be "resumed" by start)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Queue the jobs a previous process left unfinished, then start the worker."""
        if self._threads:
            return
        private_dir(self.uploads)
        resumed: list[Job] = []
        with self._lock:
            for job in self.store.unfinished():
                if job.id in self._submitted:
                    continue
                job.state = "queued"
                job.resumed += 1
                job.message = "resumed after a restart"
                self.store.save(job)
                resumed.append(job)
            # Older jobs first: put the resumed ones ahead of any submitted before start().
            submitted = self._queue.drain()
            for job in resumed:
                self._queue.put(job.id, job.tenant, job.kb)
            for queued in submitted:
                self._queue.put(queued.job_id, queued.tenant, queued.kb)
        if resumed:
            log.info("resuming %d unfinished ingestion job(s)", len(resumed))
        self._remove_orphan_uploads()
        counts = self.store.count_by_state()
        for state in JOB_STATES:
            self.metrics.jobs.labels(state).set(counts.get(state, 0))
        self._threads = [
            threading.Thread(target=self._work, name=f"ingest-jobs-{n}", daemon=True)
            for n in range(self.settings.ingest_job_workers)
        ]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Stop the running job at its next safe point, unfinished, so `start` resumes it."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            log.warning("ingestion worker still busy after %.0fs; leaving it", timeout)
            return  # it still writes to the job store: do not close it underneath
        self.parse_pool.close()
        self.store.close()

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
        with self._lock:
            self.store.insert(job)
            self._submitted.add(job.id)
        self.metrics.jobs.labels("queued").inc()
        self._queue.put(job.id, job.tenant, job.kb)
        return job.snapshot()

    # -- reading and cancelling ---------------------------------------------------------------

    def get(self, job_id: str, tenant: str) -> Job:
        """The tenant's job; another tenant's job is reported exactly like a missing one."""
        job = self._current(job_id)
        if job is None or job.tenant != tenant:
            raise JobNotFoundError(job_id)
        return job

    def list(self, stored_kb: str, limit: int = 100, since: str | None = None) -> list[Job]:
        """A KB's most recent jobs, newest first.

        `since` (the KB's creation time) leaves out the jobs of an earlier KB of that name.
        """
        jobs = self.store.for_kb(stored_kb, limit)
        if since is not None:
            jobs = [j for j in jobs if j.created_at >= since]
        with self._lock:
            return [self._live[j.id].snapshot() if j.id in self._live else j for j in jobs]

    def cancel(self, job_id: str, tenant: str) -> Job:
        """Cancel a queued job at once, a running one at its next safe point (waits briefly)."""
        with self._lock:
            job = self._live[job_id].snapshot() if job_id in self._live else self.store.get(job_id)
            if job is None or job.tenant != tenant:
                raise JobNotFoundError(job_id)
            if job.finished:
                raise JobFinishedError(f"job {job_id!r} has already finished ({job.state})")
            done = self._stop_running(job_id, "cancelled", "cancelled by request")
            if done is None:
                self._end_waiting(job, "cancelled", "cancelled before it started")
        if done is not None:
            done.wait(CANCEL_WAIT)
            return self.get(job_id, tenant)
        self.discard_upload(job_id)
        return job

    def forget_kb(self, stored_kb: str, timeout: float = CLOSE_WAIT) -> None:
        """Fail a KB's unfinished jobs before the KB is dropped; a running one stops first."""
        waiting: list[threading.Event] = []
        ended: list[str] = []
        with self._lock:
            for job in self.store.unfinished():
                if job.kb != stored_kb:
                    continue
                message = f"knowledge base {job.kb_name!r} was deleted"
                done = self._stop_running(job.id, "failed", message)
                if done is not None:
                    waiting.append(done)
                else:
                    self._end_waiting(job, "failed", message)
                    ended.append(job.id)
        for job_id in ended:
            self.discard_upload(job_id)
        for done in waiting:  # the KB's store must not close under a batch being written
            done.wait(timeout)

    def _stop_running(self, job_id: str, state: JobState, message: str) -> threading.Event | None:
        """Ask the running job to end as `state`; its done event, or None if it is not running.

        Called with the lock held.
        """
        if job_id not in self._live:
            return None
        self._outcome.setdefault(job_id, (state, message))
        self._cancel[job_id].set()
        return self._done[job_id]

    def _end_waiting(self, job: Job, state: JobState, message: str) -> None:
        """End a job that is not running; called with the lock held."""
        old = job.state
        job.state, job.finished_at, job.message = state, now(), message
        self.store.save(job)
        self._moved(old, state)

    def _current(self, job_id: str) -> Job | None:
        with self._lock:
            live = self._live.get(job_id)
            if live is not None:
                return live.snapshot()
        return self.store.get(job_id)

    # -- the worker ---------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            queued = self._queue.get()
            if queued is None or self._stopping.is_set():
                return
            try:
                self._run(queued.job_id)
            except Exception:  # the worker must outlive any one job's bookkeeping failure
                log.exception("ingestion job %s: bookkeeping failed", queued.job_id)
            finally:
                self._queue.done(queued)

    def _run(self, job_id: str) -> None:
        with self._lock:
            job = self.store.get(job_id)
            if job is None or job.state != "queued":
                return  # cancelled while it waited
            job.state = "running"
            job.started_at = job.started_at or now()
            # A resumed run counts afresh: what an earlier run wrote shows as `unchanged`.
            job.counts = JobCounts(files=job.counts.files)
            job.errors, job.timings = [], JobTimings()
            self._live[job_id] = job
            cancel = self._cancel[job_id] = threading.Event()
            self._done[job_id] = threading.Event()
            self.store.save(job.snapshot())
        self._moved("queued", "running")
        log.info("ingestion job %s started (kb %s)", job_id, job.kb)
        progress = JobProgress(
            job,
            self._lock,
            self.metrics,
            self.store.save,
            lambda: cancel.is_set() or self._stopping.is_set(),
        )
        try:
            kb = self._open_kb(job)
            finished = run_job(
                job, kb, self.uploads / job_id, self.settings, progress, self.parse_pool
            )
        except _JobFailed as exc:
            self._end(job, progress, "failed", str(exc))
            return
        except Exception as exc:
            with self._lock:
                outcome = self._outcome.get(job_id)
            if outcome is None and self._stopping.is_set():
                log.warning("ingestion job %s interrupted by shutdown: %s", job_id, exc)
                self._interrupt(job, progress)
                return
            if outcome is None:
                log.exception("ingestion job %s failed", job_id)
                self._end(job, progress, "failed", self._failure_message(job, exc))
            else:  # it was being stopped anyway (cancel, KB deleted): end as asked
                log.warning("ingestion job %s failed while stopping: %s", job_id, exc)
                self._end(job, progress, *outcome)
            return
        if finished:
            self._end(job, progress, "succeeded", _success_message(job))
        elif cancel.is_set():
            with self._lock:
                state, message = self._outcome.get(job_id, ("cancelled", "cancelled by request"))
            self._end(job, progress, state, message)
        else:
            self._interrupt(job, progress)

    def _open_kb(self, job: Job) -> OpenKB:
        if not self._kb_exists(job):
            raise _JobFailed(f"knowledge base {job.kb_name!r} no longer exists")
        return self.kbs.get(job.kb)

    def _kb_exists(self, job: Job) -> bool:
        try:
            config = self.kbs.workspace.registry.get(job.kb)
        except KBNotFoundError:
            return False
        return config.tenant == job.tenant

    def _failure_message(self, job: Job, exc: Exception) -> str:
        if not self._kb_exists(job):
            return f"knowledge base {job.kb_name!r} was deleted while the job ran"
        return f"{_public_reason(exc, job.tenant)}; {_stored(job)}"

    def _end(self, job: Job, progress: JobProgress, state: JobState, message: str | None) -> None:
        self._moved("running", state)
        with self._lock:
            job.state, job.finished_at, job.message = state, now(), message
        progress.save()
        self._forget(job.id)
        # After the final save: a crash in between leaves a folder `start` removes, never a
        # resumable job without its files.
        self.discard_upload(job.id)
        log.info("ingestion job %s %s", job.id, state)

    def _interrupt(self, job: Job, progress: JobProgress) -> None:
        """Shutdown: keep the job `running` (and its uploads) for the next start to resume."""
        with self._lock:
            job.message = "interrupted by a shutdown; resumes when the service starts again"
        progress.save()
        self._forget(job.id)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._live.pop(job_id, None)
            self._cancel.pop(job_id, None)
            self._outcome.pop(job_id, None)
            done = self._done.pop(job_id, None)
        if done is not None:
            done.set()

    def _moved(self, old: JobState, new: JobState) -> None:
        self.metrics.jobs.labels(old).dec()
        self.metrics.jobs.labels(new).inc()

    def _remove_orphan_uploads(self) -> None:
        """Upload folders of no unfinished job: a submit that died, a cleanup cut short."""
        keep = {job.id for job in self.store.unfinished()}
        for folder in self.uploads.iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)


def _public_reason(exc: Exception, tenant: str) -> str:
    """Why a job failed, as its caller may read it: no paths, no internal names or exceptions."""
    if isinstance(exc, InvalidInputError | ConfigError | LoaderError):
        return unqualified(str(exc), tenant)  # written for the caller
    if isinstance(exc, BackendUnavailableError):
        return f"{exc.backend} became unavailable"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return "the server ran out of disk space"
        cause = cause.__cause__ or cause.__context__
    return "internal error (the server log has the details)"


def _stored(job: Job) -> str:
    """What a failed run left stored: whole documents only, which a new run skips."""
    chunks = job.counts.indexed
    if not chunks:
        return "nothing was stored"
    return (
        f"{chunks} chunks written before the failure are stored and searchable "
        "(each document whole); a new upload of the same files skips them"
    )


def _success_message(job: Job) -> str | None:
    if job.counts.parsed == 0 and job.counts.failed:
        return "no document could be loaded from the inputs"
    return None
