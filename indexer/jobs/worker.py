"""The ingestion worker: takes job ids off the queue and runs the jobs, in any number of processes.

`rag worker` runs one as its own process; `rag serve` runs one in-process (embedded default).
A worker claims a queued job (one conditional UPDATE: two workers cannot both win), holds a lease
on it that a keeper thread renews, and writes progress only while it holds that lease. The keeper
also reads stop requests (cancel, KB deleted) that any API replica writes. A reaper thread finds
running jobs whose worker is gone (lease run out, or a dead process on this host) and queues them
again; the ingestor skips documents already stored with the same content, so the job's next run
redoes no finished document. Jobs of one KB run one at a time and in order (a claim finds the KB
busy and drops the message; a job that ends queues the jobs that may start now); jobs of
different KBs run side by side, `ingest_job_workers` at once, so a small job is not stuck behind
another KB's large one, and a tenant running fewer jobs goes first.
The reaper also queues the next job of every idle KB each round: a message lost anywhere (a
worker killed after taking it, a replica killed between storing a job and queueing it) only
delays a job by a round.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

from huey.consumer import Consumer

from indexer.jobs.metrics import JobMetrics
from indexer.jobs.model import Job, JobState, now
from indexer.jobs.progress import JobProgress
from indexer.jobs.queue import JobQueue
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
from rag.files import private_dir
from rag.pool import KBPool
from rag.tenancy import unqualified
from rag.workspace import OpenKB

log = logging.getLogger("indexer.jobs")

STOP_WAIT = 30.0  # seconds `stop` waits for running jobs to reach a safe point
HOST = socket.gethostname()


class _JobFailed(Exception):
    """An expected reason for a job to fail; its message is the job's message, no traceback."""


class JobWorker:
    """Runs jobs from the queue with `threads` consumer threads; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        kbs: KBPool,
        store: JobStore,
        queue: JobQueue,
        metrics: JobMetrics,
    ) -> None:
        self.settings = settings
        self.kbs = kbs
        self.store = store
        self.queue = queue
        self.metrics = metrics
        self.uploads = settings.api_dir / "uploads"
        self.lease = settings.job_lease_seconds
        # host:pid:token - a reaper on the same host can tell at once that the process is gone.
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # One pool of parse processes for every job this worker runs; they start on first use.
        self.parse_pool = ParsePool(parse_settings(settings))
        self._stopping = threading.Event()
        self._consumer: Consumer | None = None
        self._reaper: threading.Thread | None = None
        queue.attach(self.execute)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, threads: int) -> None:
        """Run jobs on background threads of this process (inside `rag serve`)."""
        self._begin()
        self._consumer = self.queue.consumer(threads, self._stopping.set, signals=False)
        self._consumer.start()

    def run(self, threads: int) -> None:
        """Run jobs until SIGINT or SIGTERM (`rag worker`), then stop them at a safe point."""
        self._begin()
        self._consumer = self.queue.consumer(threads, self._stopping.set, signals=True)
        self._consumer.run()
        self._end_reaper()

    def stop(self) -> None:
        """Stop running jobs at their next safe point (they are queued again), then the threads."""
        self._stopping.set()
        if self._consumer is not None:
            self._consumer.shutdown_timeout = STOP_WAIT
            self._consumer.stop(graceful=True)
        self._end_reaper()

    def _begin(self) -> None:
        private_dir(self.uploads)
        self.reap()
        # An upload takes at most one request: an older folder of no job is a submit that died.
        keep = {job.id for job in self.store.unfinished()}
        remove_orphan_uploads(self.uploads, keep, self.settings.api_request_timeout)
        self._reaper = threading.Thread(target=self._reap_loop, name="ingest-reaper", daemon=True)
        self._reaper.start()

    def _end_reaper(self) -> None:
        self._stopping.set()
        if self._reaper is not None:
            self._reaper.join(STOP_WAIT)
        self.parse_pool.close()

    # -- recovering jobs of dead workers ------------------------------------------------------

    def _reap_loop(self) -> None:
        while not self._stopping.wait(max(self.lease / 3, 0.2)):
            try:
                self.reap()
            except Exception:  # the database may be briefly unreachable: try again next round
                log.warning("reaping stale ingestion jobs failed", exc_info=True)

    def reap(self) -> list[str]:
        """Queue again the running jobs whose worker is gone (their ids), and every idle KB's
        next job."""
        dead = {owner for owner in self.store.running_owners() if _gone_here(owner)}
        queued: list[str] = []
        for job, owner, stop_state, stop_message in self.store.stale(time.time(), dead):
            if stop_state is not None:  # it was being stopped when its worker died: end it
                job.state, job.finished_at, job.message = stop_state, now(), stop_message  # type: ignore[assignment]
                if self.store.finish(job, owner):
                    self._discard(job.id)
                continue
            job.state, job.message = "queued", "resumed after its worker stopped"
            job.resumed += 1
            if self.store.finish(job, owner):  # only one reaper wins the job
                log.warning("ingestion job %s: its worker %s is gone, queued again", job.id, owner)
                queued.append(job.id)
        for job_id in self.store.heads():
            self.queue.enqueue(job_id)
        return queued

    # -- running one job ----------------------------------------------------------------------

    def execute(self, job_id: str) -> None:
        """The queue's handler: run the job if it is still queued and this worker wins it."""
        if self._stopping.is_set():
            self.queue.enqueue(job_id)  # taken while shutting down: give it back
            return
        claim = self.store.claim(job_id, self.owner, time.time() + self.lease)
        if claim is None or claim == "busy":  # busy: the KB's running job queues it when done
            return
        try:
            self._run(claim)
        except Exception:  # the worker must outlive any one job's bookkeeping failure
            log.exception("ingestion job %s: bookkeeping failed", job_id)
        finally:
            self._offer_heads()

    def _run(self, job: Job) -> None:
        lock = threading.Lock()
        keeper = _LeaseKeeper(self.store, job.id, self.owner, self.lease)

        def stop() -> bool:
            return keeper.stopped() or self._stopping.is_set()

        progress = JobProgress(job, lock, self.metrics, self._saver(keeper), stop)
        log.info("ingestion job %s started (kb %s)", job.id, job.kb)
        keeper.start()
        try:
            outcome = self._ingest(job, progress, keeper)
        finally:
            keeper.close()
        if keeper.lost.is_set():
            log.warning("ingestion job %s: lease lost; another worker has it", job.id)
            return
        if outcome is None:
            self._interrupt(job, progress)
        else:
            self._end(job, progress, *outcome)

    def _ingest(
        self, job: Job, progress: JobProgress, keeper: _LeaseKeeper
    ) -> tuple[JobState, str | None] | None:
        """How the job ends: (state, message), or None to queue it again (shutdown)."""
        try:
            kb = self._open_kb(job)
            finished = run_job(
                job, kb, self.uploads / job.id, self.settings, progress, self.parse_pool
            )
        except _JobFailed as exc:
            return "failed", str(exc)
        except Exception as exc:
            if keeper.request is not None:  # it was being stopped anyway (cancel, KB deleted)
                log.warning("ingestion job %s failed while stopping: %s", job.id, exc)
                return keeper.request
            if self._stopping.is_set():
                log.warning("ingestion job %s interrupted by shutdown: %s", job.id, exc)
                return None
            log.exception("ingestion job %s failed", job.id)
            return "failed", self._failure_message(job, exc)
        if finished:
            return "succeeded", _success_message(job)
        return keeper.request  # None: stopped by a shutdown or a lost lease

    def _saver(self, keeper: _LeaseKeeper):  # type: ignore[no-untyped-def]
        def save(job: Job) -> None:
            if not self.store.save(job, self.owner):
                keeper.lost.set()

        return save

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
        with progress.lock:
            job.state, job.finished_at, job.message = state, now(), message
        progress.stamp()
        if self.store.finish(job, self.owner):
            # After the final save: a crash in between leaves a folder the reaper of a later
            # start removes, never a resumable job without its files.
            self._discard(job.id)
        log.info("ingestion job %s %s", job.id, state)

    def _interrupt(self, job: Job, progress: JobProgress) -> None:
        """Shutdown: queue the job again, uploads kept, for the next free worker."""
        with progress.lock:
            job.state = "queued"
            job.message = "interrupted by a shutdown; resumes when a worker is free"
            job.resumed += 1
        progress.stamp()
        self.store.finish(job, self.owner)  # `_offer_heads` queues it (its KB's oldest)

    def _offer_heads(self) -> None:
        """A worker is free: queue every job that may start now (its KB's next, and any a
        claim put off for another tenant's turn)."""
        try:
            heads = self.store.heads()
        except Exception:  # the reaper's next round queues them
            log.warning("could not queue the jobs that may start", exc_info=True)
            return
        for job_id in heads:
            self.queue.enqueue(job_id)

    def _discard(self, job_id: str) -> None:
        shutil.rmtree(self.uploads / job_id, ignore_errors=True)


class _LeaseKeeper:
    """Renews a running job's lease and reads its stop request, on its own thread."""

    def __init__(self, store: JobStore, job_id: str, owner: str, lease: float) -> None:
        self.store, self.job_id, self.owner, self.lease = store, job_id, owner, lease
        self.lost = threading.Event()
        self.request: tuple[JobState, str | None] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join()

    def stopped(self) -> bool:
        return self.lost.is_set() or self.request is not None

    def _loop(self) -> None:
        # Stop requests are read often (a cancel waits for them); the lease is written a few
        # times per lease period, so a database write per job every lease/3 seconds at most.
        renew_every = self.lease / 3
        renewed = time.monotonic()
        while not self._done.wait(min(renew_every, 0.25)):
            try:
                if time.monotonic() - renewed >= renew_every:
                    if not self.store.renew(self.job_id, self.owner, time.time() + self.lease):
                        self.lost.set()
                        return
                    renewed = time.monotonic()
                if self.request is None:
                    self.request = self.store.stop_request(self.job_id)  # type: ignore[assignment]
            except Exception:  # keep the job; a lease that runs out is found by the next renew
                log.warning("ingestion job %s: lease renewal failed", self.job_id, exc_info=True)


def _gone_here(owner: str) -> bool:
    """Whether a lease owner is a process of this host that no longer exists."""
    host_pid = owner.rpartition(":")[0]
    host, _, pid_text = host_pid.rpartition(":")
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():  # this process: its workers are alive (or stopped gracefully)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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


def remove_orphan_uploads(uploads: Path, keep: set[str], older_than: float) -> None:
    """Upload folders of no unfinished job, untouched for `older_than` seconds (a dead submit)."""
    if not uploads.is_dir():
        return
    cutoff = time.time() - older_than
    for folder in uploads.iterdir():
        if folder.name not in keep and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
