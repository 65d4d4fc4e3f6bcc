"""The job store: a job written, updated and read back whole; unfinished jobs in FIFO order."""

from __future__ import annotations

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
    store.save(original)
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
