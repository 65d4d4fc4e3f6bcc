"""The queue of waiting jobs: fair between tenants, one job at a time per KB.

Several worker threads take jobs from it. `get` hands out the oldest waiting job of the tenant
with the fewest running jobs, so one tenant's large job (or ten) never holds back another
tenant's one-file job while a worker is free; and it never hands out a job whose KB is being
written by another, since a KB has one writer in this process (its store's lock would only
make the two jobs take turns, holding a worker each).

Hand-written rather than a task queue library: the API runs jobs in its own process, and this
is the one piece of scheduling it needs; `rag worker` processes on a real queue replace it.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class QueuedJob:
    """A waiting job; `seq` orders arrivals."""

    seq: int
    job_id: str = field(compare=False)
    tenant: str = field(compare=False)
    kb: str = field(compare=False)


class FairQueue:
    """Thread-safe; `close` wakes every waiting worker with None."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._waiting: list[QueuedJob] = []
        self._running: Counter[str] = Counter()  # running jobs per tenant
        self._busy: set[str] = set()  # KBs being written
        self._closed = False

    def put(self, job_id: str, tenant: str, kb: str) -> None:
        """Queue a job behind the ones already waiting."""
        with self._cond:
            self._waiting.append(QueuedJob(next(self._seq), job_id, tenant, kb))
            self._cond.notify()

    def get(self) -> QueuedJob | None:
        """Block until a job may run and take it; None once the queue is closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                runnable = [j for j in self._waiting if j.kb not in self._busy]
                if runnable:
                    job = min(runnable, key=lambda j: (self._running[j.tenant], j.seq))
                    self._waiting.remove(job)
                    self._running[job.tenant] += 1
                    self._busy.add(job.kb)
                    return job
                self._cond.wait()

    def done(self, job: QueuedJob) -> None:
        """A job taken by `get` has ended: its tenant and its KB are free again."""
        with self._cond:
            self._running[job.tenant] -= 1
            self._busy.discard(job.kb)
            self._cond.notify_all()

    def drain(self) -> list[QueuedJob]:
        """Take every waiting job out, oldest first (to queue them again in another order)."""
        with self._cond:
            waiting, self._waiting = sorted(self._waiting), []
            return waiting

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
