"""Which stored documents an ingest run covers, and which of those vanished from its sources.

Each caller states its scope: `rag ingest --sync` covers the stored documents whose source file
lies under the paths it was given (`UnderPaths`); an HTTP ingestion job covers those of the
files it uploads again (`indexer.jobs.inputs.Uploads`); a plain ingest covers none. A covered
document the run did not see is gone from its source and is deleted, with one rule for every
caller: a document whose source failed to load (the whole file, or one line of it) is never
deleted, since a parse error must not delete what is already stored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from indexer.loaders import LoadFailure
from rag.types import StoredDocument


class SyncScope(Protocol):
    """The stored documents one run covers: those it deletes when it does not see them."""

    def covers(self, source: str) -> bool:
        """Whether a stored document with this `source` belongs to the run."""
        ...

    def source_of(self, failure: LoadFailure) -> str:
        """The `source` that the documents of the file that failed are stored under."""
        ...


class UnderPaths:
    """Stored documents whose source file is one of `paths` or lies under one of them."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.roots = tuple(p.resolve() for p in paths)

    def covers(self, source: str) -> bool:
        path = Path(source)
        return any(path == r or r in path.parents for r in self.roots)

    def source_of(self, failure: LoadFailure) -> str:
        # The loaders stamp a file's documents with its resolved path (`loaders.dispatch.finish`).
        return str(failure.path.resolve())


def vanished(
    stored: Iterable[StoredDocument],
    seen: Collection[str],
    failures: Iterable[LoadFailure],
    scope: SyncScope,
) -> list[str]:
    """Ids of the covered stored documents the run did not see, but none of a failed source."""
    failed = {scope.source_of(f) for f in failures}
    return [
        d.id
        for d in stored
        if d.id not in seen and d.source and d.source not in failed and scope.covers(d.source)
    ]
