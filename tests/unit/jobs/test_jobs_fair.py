"""Fair jobs: one tenant's large job does not hold back another tenant's one-file job."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from test_jobs_support import (
    Env,
    SlowEmbedder,
    closing,
    create_kb,
    markdown_files,
    open_env,
    upload,
    wait_for,
)

from indexer.jobs.fair_queue import FairQueue
from rag.config import Settings


@pytest.fixture
def env(settings: Settings) -> Iterator[Env]:
    # 16 chunks a batch (the settings fixture), each embed call sleeping 0.1 s: 400 one-chunk
    # files take about 2.5 s; one file, 0.1 s.
    yield from closing(open_env(settings, SlowEmbedder(delay=0.1)))


def test_a_one_file_job_finishes_while_another_tenants_large_job_runs(env: Env) -> None:
    big_kb = create_kb(env, "archive", tenant="acme")
    small_kb = create_kb(env, "inbox", tenant="globex")
    env.jobs.start()
    big = upload(env, big_kb, markdown_files(400))
    assert wait_for(env, big.id, lambda j: j.counts.indexed > 0, tenant="acme").state == "running"

    small = upload(env, small_kb, {"memo.txt": b"A one-file job of another tenant."})
    done = wait_for(env, small.id, tenant="globex")

    assert done.state == "succeeded" and done.counts.indexed == 1
    assert env.jobs.get(big.id, "acme").state == "running"  # still going: it did not wait
    assert wait_for(env, big.id, tenant="acme").state == "succeeded"


def test_the_queue_serves_the_tenant_with_fewest_running_jobs_first() -> None:
    queue = FairQueue()
    queue.put("a1", "acme", "kb-a")
    queue.put("a2", "acme", "kb-a2")
    queue.put("a3", "acme", "kb-a3")
    queue.put("g1", "globex", "kb-g")
    first = queue.get()
    second = queue.get()
    assert (first and first.job_id, second and second.job_id) == ("a1", "g1")
    third = queue.get()
    assert third is not None and third.job_id == "a2"  # both tenants run one: oldest first


def test_the_queue_runs_one_job_per_kb_at_a_time() -> None:
    queue = FairQueue()
    queue.put("a1", "acme", "kb")
    queue.put("a2", "acme", "kb")
    first = queue.get()
    assert first is not None
    taken: list[str] = []
    worker = threading.Thread(target=lambda: taken.append(getattr(queue.get(), "job_id", "")))
    worker.start()
    worker.join(0.2)
    assert worker.is_alive() and taken == []  # a2 waits: its KB is being written
    queue.done(first)
    worker.join(5)
    assert taken == ["a2"]
    queue.close()
    assert queue.get() is None
