"""The task queue under ingestion jobs: Huey, on a SQLite file embedded or on Redis scaled out.

One code path for both deployments: the job's row in the control plane is the truth (state,
progress, lease), and a queue message only says "job X may be run now"; a message for a job that
is no longer queued is dropped. A message that is lost (a worker killed after taking it) costs
nothing: the job's lease runs out, or the next reaper round queues it again
(`indexer.jobs.worker`). Why Huey rather than Celery: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from rag.config import Settings
from rag.files import private_dir, private_file

QUEUE_NAME = "rag-ingest"
QUEUE_FILE = "queue.db"
TASK = "rag.ingest"


def build_huey(settings: Settings) -> Huey:
    """Redis when RAG_REDIS_URL is set, else a SQLite file in the data directory."""
    if settings.redis_url is not None:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url.get_secret_value(), results=False)
    private_dir(settings.data_dir)
    private_file(settings.data_dir / QUEUE_FILE)
    return SqliteHuey(
        QUEUE_NAME, filename=str(settings.data_dir / QUEUE_FILE), results=False, timeout=30
    )


class JobQueue:
    """Enqueues job ids; a worker attaches the function that runs them."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._handler: Callable[[str], None] | None = None
        self._task: Any = huey.task(name=TASK)(self._run)

    def attach(self, handler: Callable[[str], None]) -> None:
        """Run `handler(job_id)` for every message this process's consumer takes."""
        self._handler = handler

    def enqueue(self, job_id: str) -> None:
        """Let a worker run the job."""
        self._task(job_id)

    def consumer(self, threads: int, on_stop: Callable[[], None], signals: bool) -> Consumer:
        """A consumer of `threads` worker threads; `signals` False inside another server."""
        return _Consumer(self.huey, on_stop, signals, workers=threads)

    def _run(self, job_id: str) -> None:
        if self._handler is None:  # a message reached a process that only submits jobs
            raise RuntimeError("this process runs no ingestion jobs")
        self._handler(job_id)


class _Consumer(Consumer):  # type: ignore[misc]  # huey ships no type hints
    """Huey's consumer, telling the worker to stop its jobs before it waits for them.

    Inside `rag serve` it leaves signals alone: uvicorn owns them and stops it from its lifespan.
    """

    def __init__(
        self, huey: Huey, on_stop: Callable[[], None], signals: bool, workers: int
    ) -> None:
        # A short poll: a submitted job starts within a fraction of a second, not huey's 10 s;
        # SIGTERM (docker stop) is graceful, as SIGINT is.
        super().__init__(
            huey, workers=workers, periodic=False, max_delay=0.5, graceful_signal="TERM"
        )
        self._on_stop = on_stop
        self._signals = signals

    def stop(self, graceful: bool = False) -> None:
        self._on_stop()
        super().stop(graceful=graceful)

    def _set_signal_handlers(self) -> None:
        if self._signals:
            super()._set_signal_handlers()
