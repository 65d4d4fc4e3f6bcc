"""A job's inputs as documents: uploaded files through the loaders, or JSON records.

An uploaded file's documents get the file name as id (a CSV's rows `name#row`) and the source
`upload:<name>`, never the path in the job's upload folder, which is deleted when the job ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from indexer.jobs.model import RECORDS_FILE, FileError, Job
from indexer.loaders import LoadFailure, iter_documents
from rag.types import Document, Section

UPLOAD_SOURCE = "upload:"


def upload_source(name: str) -> str:
    return f"{UPLOAD_SOURCE}{name}"


class JobInputs:
    """Yields a job's documents; reports each failure and remembers which files loaded whole."""

    def __init__(self, job: Job, folder: Path, on_error: Callable[[FileError], None]) -> None:
        self.job = job
        self.folder = folder
        self.on_error = on_error
        self.seen: set[str] = set()  # ids of documents yielded
        self.clean_sources: set[str] = set()  # sources of files that loaded without a failure

    def documents(self) -> Iterator[Document]:
        if self.job.kind == "records":
            yield from records_documents(self.folder / RECORDS_FILE)
            return
        for name in self.job.inputs:
            yield from self._file(name)

    def _file(self, name: str) -> Iterator[Document]:
        path = self.folder / name
        if not path.is_file():
            self.on_error(FileError(name, "the uploaded file is missing from the job folder"))
            return
        source = upload_source(name)
        clean = True
        for item in iter_documents([path]):
            if isinstance(item, LoadFailure):
                clean = False
                # Named as uploaded: the job folder is ours, not the caller's.
                self.on_error(FileError(item.location(name), item.reason))
            else:
                self.seen.add(item.id)
                yield replace(item, source=source)
        if clean:
            self.clean_sources.add(source)


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
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
