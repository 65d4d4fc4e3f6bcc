"""The observer of a running job: counts into the job, feeds the metrics, saves now and then."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from indexer.jobs.metrics import JobMetrics
from indexer.jobs.model import FileError, Job

SAVE_EVERY = 0.5  # seconds between progress writes to the job store


class JobProgress:
    """An `IngestObserver` for one job; every change to the job happens under `lock`.

    Saves write copies taken under the same lock, so a stored job is never half-updated.
    """

    def __init__(
        self,
        job: Job,
        lock: threading.Lock,
        metrics: JobMetrics,
        save: Callable[[Job], None],
        stop: Callable[[], bool],
    ) -> None:
        self.job = job
        self.lock = lock
        self.metrics = metrics
        self._save = save
        self._stop = stop
        self._began = time.monotonic()
        self._saved = 0.0
        self._changed_docs = 0

    # -- IngestObserver -----------------------------------------------------------------------

    def parsed(self, docs: int, seconds: float) -> None:
        with self.lock:
            self.job.counts.parsed += docs
            self.job.counts.unchanged = self.job.counts.parsed - self._changed_docs
            self.job.timings.parse += seconds
        self.metrics.ingested.labels("parsed").inc(docs)
        self._maybe_save()

    def chunked(self, docs: int, chunks: int) -> None:
        with self.lock:
            self._changed_docs += docs
            self.job.counts.unchanged = self.job.counts.parsed - self._changed_docs
            self.job.counts.chunked += chunks
        self.metrics.ingested.labels("chunked").inc(chunks)

    def embedded(self, chunks: int, seconds: float) -> None:
        with self.lock:
            self.job.counts.embedded += chunks
            self.job.timings.embed += seconds
        self.metrics.ingested.labels("embedded").inc(chunks)
        self._maybe_save()

    def indexed(self, chunks: int, seconds: float) -> None:
        with self.lock:
            self.job.counts.indexed += chunks
            self.job.timings.index += seconds
        if chunks:
            self.metrics.ingested.labels("indexed").inc(chunks)
        self._maybe_save()

    def cancelled(self) -> bool:
        return self._stop()

    # -- beyond the ingestor ------------------------------------------------------------------

    def failed(self, error: FileError) -> None:
        with self.lock:
            self.job.errors.append(error)
            self.job.counts.failed += 1
        self.metrics.ingested.labels("failed").inc()
        self._maybe_save()

    def deleted(self, docs: int) -> None:
        with self.lock:
            self.job.counts.deleted += docs

    def stamp(self) -> None:
        """Bring the job's total time up to now."""
        with self.lock:
            self.job.timings.total = time.monotonic() - self._began

    def save(self) -> None:
        """Write the job as it is now (total time included)."""
        self.stamp()
        with self.lock:
            snapshot = self.job.snapshot()
        self._save(snapshot)  # the database outside the lock: counting never waits on it
        self._saved = time.monotonic()

    def _maybe_save(self) -> None:
        if time.monotonic() - self._saved >= SAVE_EVERY:
            self.save()
