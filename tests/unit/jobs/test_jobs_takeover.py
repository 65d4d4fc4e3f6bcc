"""A job whose worker died is taken over: at once when that process was on this host, after its
lease otherwise; a job being cancelled when its worker died ends cancelled, not run again."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import update
from test_jobs_support import (
    TENANT,
    SlowEmbedder,
    closing,
    create_kb,
    markdown_files,
    open_env,
    stored_ids,
    upload,
    uploads_removed,
    wait_for,
)

from controlplane.schema import jobs
from indexer.jobs.model import Job
from indexer.jobs.worker import HOST
from rag.config import Settings


def dead_pid() -> int:
    """The pid of a process of this host that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_jobs_of_dead_workers_are_taken_over(settings: Settings) -> None:
    settings = settings.model_copy(update={"job_lease_seconds": 2.0})
    for env in closing(open_env(settings, SlowEmbedder())):
        here, far, stopping = (create_kb(env, name) for name in ("here", "far", "stopping"))
        jobs_ = {t.name: upload(env, t, markdown_files(3)) for t in (here, far, stopping)}
        owners = {
            "here": f"{HOST}:{dead_pid()}:k9",  # killed on this host: found dead at once
            "far": "another-host:1:k9",  # another machine: its lease must run out
            "stopping": "another-host:2:k9",
        }
        for name, job in jobs_.items():
            claimed = env.jobs.store.claim(job.id, owners[name], time.time() + 2.0)
            assert isinstance(claimed, Job)
        env.jobs.store.request_stop(jobs_["stopping"].id, "cancelled", "cancelled by request")

        started = time.monotonic()
        assert env.worker.reap() == [jobs_["here"].id]  # the leases of the others still hold
        env.start()
        for name, target in (("here", here), ("far", far)):
            done = wait_for(env, jobs_[name].id)
            assert done.state == "succeeded" and done.resumed == 1, done
            assert stored_ids(env, target) == sorted(markdown_files(3))
        assert time.monotonic() - started >= 1.0  # "far" waited for its lease

        cancelled = wait_for(env, jobs_["stopping"].id)
        assert cancelled.state == "cancelled" and cancelled.message == "cancelled by request"
        assert stored_ids(env, stopping) == []
        assert uploads_removed(env, jobs_["stopping"].id)


def test_a_lost_queue_message_only_delays_a_job(settings: Settings) -> None:
    settings = settings.model_copy(update={"job_lease_seconds": 1.0})
    for env in closing(open_env(settings, SlowEmbedder())):
        target = create_kb(env)
        job = upload(env, target, markdown_files(2))
        env.worker.queue.huey.flush()  # the message is gone (a worker killed after taking it)
        with env.control.begin() as conn:  # and the job looks as if never started
            conn.execute(update(jobs).where(jobs.c.id == job.id).values(state="queued"))
        env.start()
        assert wait_for(env, job.id).state == "succeeded"
        assert env.jobs.get(job.id, TENANT).resumed == 0
