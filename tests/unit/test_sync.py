"""`Ingestor.sync` on a real local store: each caller's scope, and failures that delete nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.ingest import IngestCancelled, Ingestor
from indexer.jobs.inputs import JobInputs
from indexer.jobs.model import FileError, Job
from indexer.loaders import iter_documents
from indexer.sync import UnderPaths
from rag.embedding.fake import HashingEmbedder
from rag.kb import KBConfig
from rag.stores.base import Store
from rag.stores.factory import open_store

EMBEDDER = HashingEmbedder(dim=32)
CONFIG = KBConfig(
    name="kb", embedder=EMBEDDER.name, dim=EMBEDDER.dim, chunk_tokens=48, chunk_overlap=4
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(CONFIG, tmp_path / "kb")
    yield opened
    opened.close()


def ingestor(store: Store) -> Ingestor:
    return Ingestor(store, EMBEDDER, CONFIG, batch_chunks=4, flush_seconds=3600)


def stored_ids(store: Store) -> list[str]:
    return sorted(d.id for d in store.documents())


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def files(folder: Path, contents: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (folder / name).write_text(text)
    return folder


# ------------------------------------------------------------ local paths (`rag ingest`)


def test_sync_deletes_a_vanished_file_under_the_paths_only(store: Store, tmp_path: Path) -> None:
    corpus = files(tmp_path / "corpus", {"a.md": "# A\n\nalpha", "b.md": "# B\n\nbeta"})
    other = files(tmp_path / "other", {"c.md": "# C\n\ngamma"})
    run = ingestor(store)
    run.ingest_paths([corpus, other], progress=False)
    (corpus / "b.md").unlink()
    (other / "c.md").unlink()

    plain = run.ingest_paths([corpus], progress=False)  # no --sync: the run covers nothing
    assert (plain.unchanged, plain.deleted) == (1, 0)
    assert stored_ids(store) == ["corpus/a.md", "corpus/b.md", "other/c.md"]

    synced = run.sync(iter_documents([corpus]), UnderPaths([corpus]), progress=False)
    assert (synced.unchanged, synced.deleted) == (1, 1)
    assert stored_ids(store) == ["corpus/a.md", "other/c.md"]  # other/ is not under corpus/


def test_sync_keeps_the_documents_of_a_file_that_failed(store: Store, tmp_path: Path) -> None:
    corpus = files(tmp_path / "corpus", {"a.md": "# A\n\nalpha", "b.md": "# B\n\nbeta"})
    run = ingestor(store)
    run.ingest_paths([corpus], progress=False)
    (corpus / "a.md").write_text("")  # now a failure: empty file

    result = run.ingest_paths([corpus], sync=True, progress=False)
    assert [(f.location(), f.reason) for f in result.failures] == [
        (str(corpus / "a.md"), "empty file")
    ]
    assert result.deleted == 0
    assert stored_ids(store) == ["corpus/a.md", "corpus/b.md"]


def test_sync_keeps_a_files_documents_when_one_jsonl_line_failed(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "corpus" / "c.jsonl"
    files(path.parent, {"c.jsonl": jsonl({"id": "x", "text": "ex"}, {"id": "y", "text": "why"})})
    run = ingestor(store)
    run.ingest_paths([path], progress=False)
    path.write_text(jsonl({"id": "x", "text": "ex"}, "{oops"))  # y is gone, line 2 is bad

    result = run.ingest_paths([path], sync=True, progress=False)
    assert [f.location() for f in result.failures] == [f"{path}:2"]
    assert result.deleted == 0
    assert stored_ids(store) == ["x", "y"]

    path.write_text(jsonl({"id": "x", "text": "ex"}))  # fixed: now y has vanished for sure
    assert run.ingest_paths([path], sync=True, progress=False).deleted == 1
    assert stored_ids(store) == ["x"]


def test_a_cancelled_sync_deletes_nothing(store: Store, tmp_path: Path) -> None:
    corpus = files(tmp_path / "corpus", {"a.md": "# A\n\nalpha", "b.md": "# B\n\nbeta"})
    ingestor(store).ingest_paths([corpus], progress=False)
    (corpus / "b.md").unlink()

    class StopAtOnce:
        def parsed(self, docs: int, seconds: float) -> None: ...
        def chunked(self, docs: int, chunks: int) -> None: ...
        def embedded(self, chunks: int, seconds: float) -> None: ...
        def indexed(self, chunks: int, seconds: float) -> None: ...
        def cancelled(self) -> bool:
            return True

    with pytest.raises(IngestCancelled):
        ingestor(store).ingest_paths([corpus], sync=True, progress=False, observer=StopAtOnce())
    assert stored_ids(store) == ["corpus/a.md", "corpus/b.md"]


# ------------------------------------------------------------ uploads (the API's jobs)


def upload_job(folder: Path, contents: dict[str, str]) -> Job:
    files(folder, contents)
    return Job(id="job_x", tenant="t", kb="kb", kb_name="kb", kind="files", inputs=list(contents))


Outcome = tuple[int, list[FileError]]  # documents deleted, errors reported


def run_uploads(store: Store, folder: Path, contents: dict[str, str]) -> Outcome:
    """Ingest one upload job's files the way the job runner does."""
    errors: list[FileError] = []
    inputs = JobInputs(upload_job(folder, contents), folder, errors.append)
    result = ingestor(store).sync(inputs.items(), inputs.scope(), progress=False)
    return result.deleted, errors


def test_a_reuploaded_file_loses_its_vanished_rows_and_nothing_else(
    store: Store, tmp_path: Path
) -> None:
    table = "id,text\nr1,first row\nr2,second row\n"
    run_uploads(store, tmp_path / "job1", {"table.csv": table, "notes.md": "# N\n\nnotes"})
    assert stored_ids(store) == ["notes.md", "table.csv#r1", "table.csv#r2"]

    # notes.md is not in this job: the job does not cover it, though it sees none of its rows.
    shorter = {"table.csv": "id,text\nr1,first row\n"}
    deleted, errors = run_uploads(store, tmp_path / "job2", shorter)
    assert (deleted, errors) == (1, [])
    assert stored_ids(store) == ["notes.md", "table.csv#r1"]
    assert {d.source for d in store.documents()} == {"upload:notes.md", "upload:table.csv"}


def test_a_reuploaded_file_that_fails_keeps_its_rows(store: Store, tmp_path: Path) -> None:
    first = {"data.jsonl": jsonl({"id": "a", "text": "x"}, {"id": "b", "text": "y"})}
    run_uploads(store, tmp_path / "job1", first)

    again = {"data.jsonl": jsonl({"id": "a", "text": "x"}, {"id": "c"})}  # b gone, line 2 bad
    deleted, errors = run_uploads(store, tmp_path / "job2", again)
    assert (deleted, errors) == (0, [FileError(file="data.jsonl:2", error="missing 'text'")])
    assert stored_ids(store) == ["a", "b"]

    deleted, errors = run_uploads(store, tmp_path / "job3", {"data.jsonl": ""})
    assert (deleted, errors) == (0, [FileError(file="data.jsonl", error="empty file")])
    assert stored_ids(store) == ["a", "b"]


def test_an_upload_missing_from_the_job_folder_keeps_its_rows(store: Store, tmp_path: Path) -> None:
    run_uploads(store, tmp_path / "job1", {"t.csv": "id,text\nr1,one\n"})
    folder = tmp_path / "job2"
    folder.mkdir()
    errors: list[FileError] = []
    job = Job(id="job_y", tenant="t", kb="kb", kb_name="kb", kind="files", inputs=["t.csv"])
    inputs = JobInputs(job, folder, errors.append)
    assert ingestor(store).sync(inputs.items(), inputs.scope(), progress=False).deleted == 0
    missing = "the uploaded file is missing from the job folder"
    assert errors == [FileError(file="t.csv", error=missing)]
    assert stored_ids(store) == ["t.csv#r1"]
