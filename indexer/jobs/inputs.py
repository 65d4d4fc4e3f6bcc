"""A job's inputs as documents: uploaded files through the loaders, or JSON records.

An uploaded file's documents get the file name as id (a CSV's rows `name#row`) and the source
`upload:<name>`, never the path in the job's upload folder, which is deleted when the job ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from indexer.jobs.model import RECORDS_FILE, FileError, Job
from indexer.loaders import LoadFailure, iter_documents
from rag.files import private_file
from rag.types import Document, Section

UPLOAD_SOURCE = "upload:"


def upload_source(name: str) -> str:
    return f"{UPLOAD_SOURCE}{name}"


class Uploads:
    """A `SyncScope`: the stored documents of a job's uploaded files, by their upload source.

    A file uploaded again covers its earlier rows, so the rows its new version lacks go.
    """

    def __init__(self, folder: Path, names: Sequence[str]) -> None:
        # A failure names the file by the path JobInputs loaded it from: folder / name.
        self.sources = {folder / name: upload_source(name) for name in names}
        self.covered = frozenset(self.sources.values())

    def covers(self, source: str) -> bool:
        return source in self.covered

    def source_of(self, failure: LoadFailure) -> str:
        return self.sources.get(failure.path, str(failure.path))


class JobInputs:
    """A job's documents and load failures; each failure is reported as it passes."""

    def __init__(self, job: Job, folder: Path, on_error: Callable[[FileError], None]) -> None:
        self.job = job
        self.folder = folder
        self.on_error = on_error

    def items(self) -> Iterator[Document | LoadFailure]:
        """The documents to ingest, and a failure for each file or line that did not load."""
        if self.job.kind == "records":
            yield from records_documents(self.folder / RECORDS_FILE)
            return
        for name in self.job.inputs:
            yield from self._file(name)

    def scope(self) -> Uploads | None:
        """The stored documents the job covers: none for records, which are never synced."""
        return None if self.job.kind == "records" else Uploads(self.folder, self.job.inputs)

    def _file(self, name: str) -> Iterator[Document | LoadFailure]:
        path = self.folder / name
        items: Iterable[Document | LoadFailure] = (
            iter_documents([path])
            if path.is_file()
            else [LoadFailure(path, "the uploaded file is missing from the job folder")]
        )
        source = upload_source(name)
        for item in items:
            if isinstance(item, LoadFailure):
                # Named as uploaded: the job folder is ours, not the caller's.
                self.on_error(FileError(file=item.location(name), error=item.reason))
                yield item
            else:
                yield replace(item, source=source)


def records_documents(path: Path) -> Iterator[Document]:
    """The documents of a records job's file (validated when the job was submitted)."""
    with path.open(encoding="utf-8") as fh:
        records = json.load(fh)
    for record in records:
        yield Document(
            id=record["id"],
            sections=(Section(record["text"]),),
            title=record.get("title") or "",
            metadata=dict(record.get("metadata") or {}),
        )


def write_records(path: Path, records: list[dict[str, object]]) -> None:
    private_file(path).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
