"""The job store: a job written, updated and read back whole; unfinished jobs in FIFO order."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from api.schemas import JobOut
from controlplane.migrate import open_control_plane
from indexer.jobs.model import FileError, Job, JobCounts, JobTimings
from indexer.jobs.store import JobStore
from rag.config import Settings


def job(job_id: str, kb: str = "docs", state: str = "queued") -> Job:
    return Job(
        id=job_id,
        tenant="acme",
        kb=f"acme__{kb}",
        kb_name=kb,
        kind="files",
        inputs=["a.md", "b.pdf"],
        state=state,  # type: ignore[arg-type]
        counts=JobCounts(files=2),
    )


def test_round_trip_keeps_every_field(settings: Settings) -> None:
    engine = open_control_plane(settings)
    store = JobStore(engine)
    original = job("job_1")
    store.insert(original)
    assert store.get("job_1") == original

    original.state = "failed"
    original.started_at, original.finished_at = "2024-01-01T00:00:00", "2024-01-01T00:01:00"
    original.counts = JobCounts(files=2, parsed=1, chunked=3, embedded=3, indexed=3, failed=1)
    original.errors = [FileError(file="b.pdf", error="encrypted PDF")]
    original.timings = JobTimings(parse=0.5, embed=1.25, index=0.125, total=2.0)
    original.message, original.resumed = "boom", 2
    claimed = store.claim("job_1", "w1", lease_until=time.time() + 30)
    assert isinstance(claimed, Job) and claimed.state == "running"
    assert store.finish(original, "w1")
    engine.dispose()

    engine = open_control_plane(settings)
    reopened = JobStore(engine)
    assert reopened.get("job_1") == original
    assert reopened.get("job_missing") is None
    public = JobOut.of(original).model_dump()
    assert public["kb"] == "docs" and public["errors"] == [
        {"file": "b.pdf", "error": "encrypted PDF"}
    ]
    assert set(public["counts"]) == {
        "files", "parsed", "chunked", "embedded", "indexed", "unchanged", "deleted", "failed"
    }  # fmt: skip
    assert set(public["timings"]) == {"parse", "embed", "index", "total"}
    engine.dispose()


def test_listing_orders(control: Engine) -> None:
    store = JobStore(control)
    for n, state in enumerate(["succeeded", "running", "queued", "cancelled", "queued"]):
        store.insert(job(f"job_{n}", state=state))
    store.insert(job("job_other", kb="other"))
    assert [j.id for j in store.unfinished()] == ["job_1", "job_2", "job_4", "job_other"]
    assert [j.id for j in store.for_kb("acme__docs", 3)] == ["job_4", "job_3", "job_2"]
    assert store.count_by_state() == {"succeeded": 1, "running": 1, "queued": 3, "cancelled": 1}


def test_one_claim_wins_and_a_kbs_jobs_run_in_order(control: Engine) -> None:
    store = JobStore(control)
    for job_id in ("job_a", "job_b"):
        store.insert(job("job_" + job_id[-1]))
    store.insert(job("job_x", kb="other"))
    lease = time.time() + 30

    assert store.claim("job_b", "w1", lease) == "busy"  # job_a is older: it goes first
    first = store.claim("job_a", "w1", lease)
    assert isinstance(first, Job) and first.state == "running"
    assert store.claim("job_a", "w2", lease) is None  # already taken
    assert store.claim("job_b", "w2", lease) == "busy"  # its KB is busy
    assert isinstance(store.claim("job_x", "w2", lease), Job)  # another KB runs beside it
    assert store.heads() == []  # every KB with queued jobs has one running

    assert not store.save(first, "w2")  # only the lease holder writes
    first.state = "succeeded"
    assert store.finish(first, "w1")
    assert store.heads() == ["job_b"]
    assert isinstance(store.claim("job_b", "w2", lease), Job)


def test_a_cancel_and_a_claim_cannot_both_win(control: Engine) -> None:
    store = JobStore(control)
    queued = job("job_1")
    store.insert(queued)
    assert isinstance(store.claim("job_1", "w1", time.time() + 30), Job)
    assert not store.end_if_queued(queued, "cancelled", "too late")  # a worker has it
    store.request_stop("job_1", "cancelled", "cancelled by request")
    store.request_stop("job_1", "failed", "a later request")  # the first one wins
    assert store.stop_request("job_1") == ("cancelled", "cancelled by request")
    assert store.renew("job_1", "w1", time.time() + 30)
    assert not store.renew("job_1", "w2", time.time() + 30)


def test_stale_finds_expired_leases_and_dead_owners(control: Engine) -> None:
    store = JobStore(control)
    for job_id in ("job_1", "job_2", "job_3"):
        store.insert(job(job_id, kb=job_id))
    now_s = time.time()
    store.claim("job_1", "gone", now_s - 1)  # its lease ran out
    store.claim("job_2", "dead-here", now_s + 30)  # a dead process of this host
    store.claim("job_3", "alive", now_s + 30)
    stale = store.stale(now_s, {"dead-here"})
    assert [(j.id, owner) for j, owner, _, _ in stale] == [
        ("job_1", "gone"),
        ("job_2", "dead-here"),
    ]
    assert store.running_owners() == {"gone", "dead-here", "alive"}


def test_a_tenant_running_fewer_jobs_goes_first(control: Engine) -> None:
    store = JobStore(control)
    lease = time.time() + 30
    for job_id, kb, tenant in [
        ("job_a1", "a1", "acme"), ("job_a2", "a2", "acme"), ("job_g1", "g1", "globex"),
    ]:  # fmt: skip
        store.insert(job(job_id, kb=kb).model_copy(update={"tenant": tenant, "kb": kb}))
    assert isinstance(store.claim("job_a1", "w1", lease), Job)
    assert store.claim("job_a2", "w2", lease) == "busy"  # globex runs none and has one waiting
    assert isinstance(store.claim("job_g1", "w2", lease), Job)
    assert isinstance(store.claim("job_a2", "w3", lease), Job)  # one each: acme's turn again
