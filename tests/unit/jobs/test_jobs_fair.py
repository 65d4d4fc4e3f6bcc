"""Fair jobs: one tenant's large job does not hold back another tenant's one-file job.

The rules themselves (fewest running jobs per tenant first, one job per KB, in order) are
claims on the jobs table: tests/unit/jobs/test_jobs_store.py."""

from __future__ import annotations

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

from rag.config import Settings


@pytest.fixture
def env(settings: Settings) -> Iterator[Env]:
    # 16 chunks a batch (the settings fixture), each embed call sleeping 0.1 s: 400 one-chunk
    # files take about 2.5 s; one file, 0.1 s.
    yield from closing(open_env(settings, SlowEmbedder(delay=0.1)))


def test_a_one_file_job_finishes_while_another_tenants_large_job_runs(env: Env) -> None:
    big_kb = create_kb(env, "archive", tenant="acme")
    small_kb = create_kb(env, "inbox", tenant="globex")
    env.start()
    big = upload(env, big_kb, markdown_files(400))
    assert wait_for(env, big.id, lambda j: j.counts.indexed > 0, tenant="acme").state == "running"

    small = upload(env, small_kb, {"memo.txt": b"A one-file job of another tenant."})
    done = wait_for(env, small.id, tenant="globex")

    assert done.state == "succeeded" and done.counts.indexed == 1
    assert env.jobs.get(big.id, "acme").state == "running"  # still going: it did not wait
    assert wait_for(env, big.id, tenant="acme").state == "succeeded"
