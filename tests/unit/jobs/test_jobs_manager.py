"""The job manager on a real local KB: stage counts, per-file errors, re-uploads, records,
tenancy and failures. Cancel and resume are in test_jobs_resume.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_jobs_support import (
    TENANT,
    Env,
    SlowEmbedder,
    closing,
    create_kb,
    gauge,
    ingested,
    open_env,
    stored_ids,
    upload,
    uploads_removed,
    wait_for,
)

from api.errors import domain_status
from indexer.jobs.errors import JobNotFoundError
from rag.config import Settings


@pytest.fixture
def env(settings: Settings) -> Iterator[Env]:
    yield from closing(open_env(settings, SlowEmbedder()))


GOOD = {
    "alpha.md": b"# Alpha\n\nAlpha particles are helium nuclei.",
    "beta.txt": b"Beta decay emits an electron and an antineutrino.",
    "table.csv": b"id,text\nr1,first row of the table\nr2,second row of the table\n",
}


def test_job_runs_to_success_with_stage_counts(env: Env) -> None:
    target = create_kb(env)
    env.start()
    submitted = upload(env, target, GOOD)
    assert submitted.state == "queued" and submitted.counts.files == 3

    job = wait_for(env, submitted.id)

    assert job.state == "succeeded", job.message
    store = env.kbs.get(target.stored).store
    chunks = store.stats().chunks
    assert job.counts.parsed == 4 and job.counts.unchanged == 0 and job.counts.failed == 0
    assert job.counts.chunked == job.counts.embedded == job.counts.indexed == chunks >= 4
    assert job.errors == [] and job.message is None
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.timings.total > 0 and job.timings.embed > 0 and job.timings.parse > 0
    assert stored_ids(env, target) == ["alpha.md", "beta.txt", "table.csv#r1", "table.csv#r2"]
    alpha = store.get_document("alpha.md")
    assert alpha is not None and alpha.source == "upload:alpha.md"
    assert alpha.metadata["type"] == "md"
    assert uploads_removed(env, job.id)  # uploads go once the job is final
    assert ingested(env, "parsed") == 4 and ingested(env, "indexed") == chunks
    assert gauge(env, "succeeded") == 1 and gauge(env, "queued") == gauge(env, "running") == 0
    assert [j.id for j in env.jobs.list(target.stored)] == [job.id]


def test_unreadable_files_are_per_file_errors(env: Env) -> None:
    target = create_kb(env)
    env.start()
    files = {
        "good.md": b"# Good\n\nThis file is fine.",
        "broken.pdf": b"%PDF-1.4 this is not really a pdf",
        "notes.xyz": b"no loader for this",
        "empty.txt": b"",
    }
    job = wait_for(env, upload(env, target, files).id)

    assert job.state == "succeeded"
    errors = {e.file: e.error for e in job.errors}
    assert set(errors) == {"broken.pdf", "notes.xyz", "empty.txt"}
    assert ".xyz" in errors["notes.xyz"] and errors["empty.txt"] == "empty file"
    assert job.counts.failed == 3 and job.counts.parsed == 1
    assert stored_ids(env, target) == ["good.md"]


def test_nothing_loadable_still_succeeds_with_a_message(env: Env) -> None:
    target = create_kb(env)
    env.start()
    job = wait_for(env, upload(env, target, {"a.xyz": b"?"}).id)
    assert job.state == "succeeded" and job.counts.failed == 1
    assert job.message == "no document could be loaded from the inputs"


def test_reupload_skips_unchanged_and_drops_vanished_rows(env: Env) -> None:
    target = create_kb(env)
    env.start()
    first = wait_for(env, upload(env, target, GOOD).id)
    assert first.state == "succeeded"
    embedded_before = ingested(env, "embedded")

    again = dict(GOOD, **{"table.csv": b"id,text\nr1,first row of the table\n"})
    second = wait_for(env, upload(env, target, again).id)

    assert second.state == "succeeded"
    assert second.counts.parsed == 3 and second.counts.unchanged == 3
    assert second.counts.chunked == second.counts.embedded == 0
    assert ingested(env, "embedded") == embedded_before  # unchanged content costs nothing
    assert second.counts.deleted == 1
    assert stored_ids(env, target) == ["alpha.md", "beta.txt", "table.csv#r1"]


def test_a_failed_reupload_deletes_nothing(env: Env) -> None:
    target = create_kb(env)
    env.start()
    wait_for(env, upload(env, target, GOOD).id)
    broken = {"table.csv": b"id,text\nr1,first\nr2,second,extra,cells\n"}
    job = wait_for(env, upload(env, target, broken).id)
    assert job.counts.failed == 1 and job.counts.deleted == 0
    assert "table.csv#r2" in stored_ids(env, target)


def test_records_job(env: Env) -> None:
    target = create_kb(env)
    env.start()
    records = [
        {"id": "r1", "text": "Refunds take 14 days.", "title": "Refunds", "metadata": {"y": 1}},
        {"id": "r2", "text": "Shipping takes three days."},
    ]
    job = wait_for(env, env.jobs.submit_records(target, records).id)

    assert job.state == "succeeded" and job.counts.files == 0 and job.counts.parsed == 2
    doc = env.kbs.get(target.stored).store.get_document("r1")
    assert doc is not None and doc.title == "Refunds" and doc.metadata == {"y": 1}
    assert stored_ids(env, target) == ["r1", "r2"]


def test_jobs_of_another_tenant_are_not_found(env: Env) -> None:
    target = create_kb(env)
    job = upload(env, target, GOOD)
    for call in (env.jobs.get, env.jobs.cancel):
        with pytest.raises(JobNotFoundError) as caught:
            call(job.id, "globex")
        assert domain_status(caught.value) == (404, "not_found_error", "job_not_found")
    with pytest.raises(JobNotFoundError):
        env.jobs.get("job_nope", TENANT)
    assert env.jobs.get(job.id, TENANT).state == "queued"  # nothing changed it
    assert env.jobs.list(create_kb(env, "other").stored) == []


def test_an_unexpected_error_fails_the_job_and_the_worker_goes_on(settings: Settings) -> None:
    embedder = SlowEmbedder(fail_with="embedder exploded")
    for env in closing(open_env(settings, embedder)):
        target = create_kb(env)
        env.start()
        job = wait_for(env, upload(env, target, GOOD).id)
        # The exception's text is for the log, not the caller (issue 11, item 5).
        assert job.state == "failed"
        assert job.message == "internal error (the server log has the details); nothing was stored"
        assert uploads_removed(env, job.id)

        embedder.fail_with = None
        assert wait_for(env, upload(env, target, GOOD).id).state == "succeeded"


def test_a_job_whose_kb_was_dropped_fails_clearly(env: Env) -> None:
    target = create_kb(env)
    job = upload(env, target, GOOD)
    env.kbs.drop(target.stored)  # behind the manager's back: found when the job starts
    env.start()
    failed = wait_for(env, job.id)
    assert failed.state == "failed"
    assert failed.message == "knowledge base 'docs' no longer exists"


def test_nested_html_beside_a_good_txt_leaves_the_txt_stored_and_searchable(env: Env) -> None:
    target = create_kb(env)
    env.start()
    deep = b"<html><body>" + b"<div>" * 5000 + b"deep" + b"</div>" * 5000 + b"</body></html>"
    files = {"deep.html": deep, "good.txt": b"Otters crack shellfish open with stones."}
    job = wait_for(env, upload(env, target, files).id)

    assert job.state == "succeeded", job.message
    assert [(e.file, e.error) for e in job.errors] == [
        ("deep.html", "HTML nests elements more than 256 levels deep "
         "(limit RAG_INGEST_MAX_HTML_DEPTH)")
    ]  # fmt: skip
    hits = env.kbs.get(target.stored).store.search_bm25("otters shellfish", 5)
    assert [h.doc_id for h in hits] == ["good.txt"]
