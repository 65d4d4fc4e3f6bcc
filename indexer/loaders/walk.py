"""Turns the files and folders an ingest job names into documents, or failures to report."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.loaders.dispatch import file_type, finish, load_file
from indexer.loaders.jsonl import LineError, iter_lines
from indexer.loaders.patterns import matches_any
from rag.errors import LoaderError
from rag.types import Document


@dataclass(frozen=True)
class LoadFailure:
    """A file, or one line of a .jsonl file, that could not be loaded."""

    path: Path  # the file (or folder) as the walk reached it
    reason: str  # human readable, e.g. "encrypted PDF", "empty file"
    line: int | None = None  # 1-based, when only this line of a .jsonl file failed

    def location(self, name: str | None = None) -> str:
        """Where it failed as reports show it: the file (or `name` for it), ':17' for a line."""
        shown = str(self.path) if name is None else name
        return shown if self.line is None else f"{shown}:{self.line}"


def iter_documents(
    paths: Sequence[Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[Document | LoadFailure]:
    """Load files and walk folders in order; each failure is yielded and the walk goes on.

    Folder files get the id `<folder name>/<relative path>` and are filtered by the globs
    (exclude wins); a named file gets its file name as id and is always attempted.
    """
    for arg in paths:
        if arg.is_dir():
            prefix = Path(os.path.abspath(arg)).name  # abspath folds "." and ".." first
            for item in _walk(arg):
                if isinstance(item, LoadFailure):
                    yield item
                elif _wanted(item, arg, include, exclude):
                    rel = item.relative_to(arg).as_posix()
                    yield from _load(item, f"{prefix}/{rel}" if prefix else rel)
        elif arg.exists():
            yield from _load(arg, arg.name)
        else:
            yield LoadFailure(arg, "no such file or directory")


def _walk(folder: Path) -> Iterator[Path | LoadFailure]:
    """Files under `folder` in name order, hidden entries and folder symlinks skipped."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield LoadFailure(folder, f"cannot read folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        # Not following linked folders keeps a link cycle from walking forever.
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path)
        elif entry.is_file():
            yield path


def _wanted(path: Path, root: Path, include: Sequence[str], exclude: Sequence[str]) -> bool:
    rel = path.relative_to(root).as_posix()
    if matches_any(exclude, rel):
        return False
    if include:
        # An unsupported file the user asked for by pattern is reported, not skipped.
        return matches_any(include, rel)
    return file_type(path) is not None


def _load(path: Path, id_path: str) -> Iterator[Document | LoadFailure]:
    try:
        if file_type(path) == "jsonl":
            yield from _load_jsonl(path, id_path)
        else:
            yield from load_file(path, id_path)
    except LoaderError as exc:
        yield LoadFailure(path, str(exc))


def _load_jsonl(path: Path, id_path: str) -> Iterator[Document | LoadFailure]:
    """Per-line outcomes, so one bad record costs that record only."""
    try:
        for item in iter_lines(path):
            if isinstance(item, LineError):
                yield LoadFailure(path, item.reason, item.line)
            else:
                yield finish(item, path, id_path, "jsonl")
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or exc}") from exc
