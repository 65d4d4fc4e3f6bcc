"""Stopping jobs: cancel (queued and running), a KB deleted under a job, and resume after a
shutdown, where a new manager on the same data directory finishes the job without redoing
the work the first one wrote."""

from __future__ import annotations

import os
import time

import pytest
from test_jobs_support import (
    TENANT,
    SlowEmbedder,
    closing,
    create_kb,
    gauge,
    markdown_files,
    open_env,
    stored_ids,
    upload,
    uploads_removed,
    wait_for,
)

from api.errors import domain_status
from indexer.jobs.errors import JobFinishedError
from indexer.jobs.model import Job
from rag.config import Settings

DOCS = 30  # one chunk each; with 2 chunks per batch, 15 slow batches


def slow_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ingest_batch_chunks": 2})


def some_indexed(job: Job) -> bool:
    return job.counts.indexed > 0 or job.finished


def test_cancel_a_queued_job_and_refuse_cancelling_a_finished_one(settings: Settings) -> None:
    for env in closing(open_env(settings, SlowEmbedder())):
        target = create_kb(env)
        job = upload(env, target, markdown_files(3))  # the worker is not started yet

        cancelled = env.jobs.cancel(job.id, TENANT)

        assert cancelled.state == "cancelled" and cancelled.finished_at
        assert cancelled.message == "cancelled before it started"
        assert uploads_removed(env, job.id)
        env.start()
        later = upload(env, target, markdown_files(1))
        assert wait_for(env, later.id).state == "succeeded"
        assert env.jobs.get(job.id, TENANT).state == "cancelled"  # it never ran
        assert stored_ids(env, target) == ["doc000.md"]
        for finished in (job.id, later.id):
            with pytest.raises(JobFinishedError) as caught:
                env.jobs.cancel(finished, TENANT)
            assert domain_status(caught.value) == (409, "conflict_error", "job_finished")


def test_cancel_a_running_job_stops_after_a_written_batch(settings: Settings) -> None:
    for env in closing(open_env(slow_settings(settings), SlowEmbedder(delay=0.05))):
        target = create_kb(env)
        env.start()
        job = upload(env, target, markdown_files(DOCS))
        assert wait_for(env, job.id, some_indexed).state == "running"

        cancelled = env.jobs.cancel(job.id, TENANT)

        assert cancelled.state == "cancelled" and cancelled.message == "cancelled by request"
        store = env.kbs.get(target.stored).store
        written = store.documents()
        assert 0 < len(written) < DOCS
        # Whole documents only, and the counts say what was written.
        assert (
            store.stats().chunks == sum(d.chunk_count for d in written) == cancelled.counts.indexed
        )
        assert uploads_removed(env, job.id)
        assert gauge(env, "cancelled") == 1 and gauge(env, "running") == 0


def test_deleting_the_kb_fails_its_jobs(settings: Settings) -> None:
    for env in closing(open_env(slow_settings(settings), SlowEmbedder(delay=0.05))):
        target = create_kb(env)
        env.start()
        running = upload(env, target, markdown_files(DOCS))
        waiting = upload(env, target, markdown_files(2))
        wait_for(env, running.id, some_indexed)

        env.jobs.forget_kb(target.stored)  # what `DELETE /v1/kbs/{kb}` does before dropping
        env.kbs.drop(target.stored)

        for job_id in (running.id, waiting.id):
            job = env.jobs.get(job_id, TENANT)
            assert job.state == "failed" and job.message == "knowledge base 'docs' was deleted"
            assert uploads_removed(env, job_id)


def test_a_job_interrupted_by_shutdown_resumes_without_redoing_work(settings: Settings) -> None:
    settings = slow_settings(settings)
    first = open_env(settings, SlowEmbedder(delay=0.05))
    target = create_kb(first)
    first.start()
    job = upload(first, target, markdown_files(DOCS))
    wait_for(first, job.id, some_indexed)

    first.close()  # the service stops mid-job

    embedder = SlowEmbedder()
    for second in closing(open_env(settings, embedder)):
        stopped = second.jobs.get(job.id, TENANT)  # read before start: as the first run left it
        # Queued again at a safe point, for whichever worker is free next.
        assert stopped.state == "queued" and "resumes" in (stopped.message or "")
        assert stopped.resumed == 1
        done_before = len(stored_ids(second, target))
        assert 0 < done_before < DOCS and stopped.counts.indexed > 0
        assert (second.jobs.uploads / job.id).is_dir()  # the files wait for the resume

        second.start()
        resumed = wait_for(second, job.id)

        assert resumed.state == "succeeded" and resumed.resumed == 1
        # The resumed run skips what the first wrote and embeds only the rest.
        assert resumed.counts.unchanged == done_before
        assert embedder.texts == resumed.counts.embedded == DOCS - done_before
        ids = stored_ids(second, target)
        assert ids == sorted(markdown_files(DOCS))  # every document, exactly once
        store = second.kbs.get(target.stored).store
        assert store.stats().chunks == sum(d.chunk_count for d in store.documents()) == DOCS
        assert uploads_removed(second, job.id)


def test_start_runs_leftover_jobs_of_a_kb_in_order_and_removes_orphan_uploads(
    settings: Settings,
) -> None:
    first = open_env(settings, SlowEmbedder())
    target = create_kb(first)
    jobs = [upload(first, target, {f"f{n}.md": f"# F{n}\n\nfile {n}".encode()}) for n in range(3)]
    orphan = first.jobs.uploads / "job_orphan"
    orphan.mkdir()
    recent = first.jobs.uploads / "job_uploading"  # another replica may be streaming into it
    recent.mkdir()
    old = time.time() - settings.api_request_timeout - 60
    os.utime(orphan, (old, old))
    first.close()  # never started: the jobs stay queued

    for second in closing(open_env(settings, SlowEmbedder())):
        second.start(threads=3)  # three threads, yet one KB's jobs run one at a time, in order
        done = [wait_for(second, j.id) for j in jobs]
        assert [j.state for j in done] == ["succeeded"] * 3
        assert all(j.resumed == 0 for j in done)  # never interrupted
        spans = [(j.started_at or "", j.finished_at or "") for j in done]
        assert all(spans[n][1] <= spans[n + 1][0] for n in range(2))  # FIFO, no overlap
        assert not orphan.exists() and recent.exists()
