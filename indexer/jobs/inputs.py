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
from indexer.loaders import LoadFailure, ParsePool, ParseSettings, file_tasks
from indexer.loaders.pool import FileTask
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

    def __init__(
        self,
        job: Job,
        folder: Path,
        on_error: Callable[[FileError], None],
        pool: ParsePool | None = None,
    ) -> None:
        self.job = job
        self.folder = folder
        self.on_error = on_error
        self.pool = pool  # parse processes shared by the manager's jobs; None: in process

    def items(self) -> Iterator[Document | LoadFailure]:
        """The documents to ingest, and a failure for each file or line that did not load."""
        if self.job.kind == "records":
            yield from records_documents(self.folder / RECORDS_FILE)
            return
        tasks = (self._task(name) for name in self.job.inputs)
        if self.pool is None:
            with ParsePool(ParseSettings(workers=0)) as inline:
                yield from self._named(inline.documents(tasks))
        else:
            yield from self._named(self.pool.documents(tasks))

    def scope(self) -> Uploads | None:
        """The stored documents the job covers: none for records, which are never synced."""
        return None if self.job.kind == "records" else Uploads(self.folder, self.job.inputs)

    def _task(self, name: str) -> FileTask | LoadFailure:
        path = self.folder / name
        if not path.is_file():
            return LoadFailure(path, "the uploaded file is missing from the job folder")
        # The id is the upload name, as `iter_documents` names a file given on its own.
        return next(t for t in file_tasks([path]) if isinstance(t, FileTask))

    def _named(self, items: Iterable[Document | LoadFailure]) -> Iterator[Document | LoadFailure]:
        """Failures reported by upload name; documents get their upload's source."""
        for item in items:
            if isinstance(item, LoadFailure):
                # Named as uploaded: the job folder is ours, not the caller's.
                name = item.path.relative_to(self.folder).as_posix()
                self.on_error(FileError(file=item.location(name), error=item.reason))
                yield item
            else:
                yield replace(item, source=upload_source(str(item.metadata["path"])))


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
