"""Turns the files and folders an ingest job names into documents, or failures to report."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from indexer.loaders.dispatch import file_type
from indexer.loaders.failure import LoadFailure
from indexer.loaders.patterns import matches_any
from indexer.loaders.pool import FileParsed, FileTask, ParsePool, ParseSettings
from rag.types import Document


def iter_documents(
    paths: Sequence[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    pool: ParsePool | None = None,
    on_file: Callable[[FileParsed], None] | None = None,
) -> Iterator[Document | LoadFailure]:
    """Load files and walk folders in order; each failure is yielded and the walk goes on.

    Folder files get the id `<folder name>/<relative path>` and are filtered by the globs
    (exclude wins); a named file gets its file name as id and is always attempted. Files are
    parsed by `pool` (worker processes); without one, in this process.
    """
    tasks = file_tasks(paths, include, exclude)
    if pool is not None:
        yield from pool.documents(tasks, on_file)
        return
    with ParsePool(ParseSettings(workers=0)) as inline:
        yield from inline.documents(tasks, on_file)


def file_tasks(
    paths: Sequence[Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[FileTask | LoadFailure]:
    """The files to load, in order, and a failure for each path that cannot be walked."""
    for arg in paths:
        if arg.is_dir():
            prefix = Path(os.path.abspath(arg)).name  # abspath folds "." and ".." first
            for item in _walk(arg):
                if isinstance(item, LoadFailure):
                    yield item
                elif _wanted(item, arg, include, exclude):
                    rel = item.relative_to(arg).as_posix()
                    yield _task(item, f"{prefix}/{rel}" if prefix else rel)
        elif arg.exists():
            yield _task(arg, arg.name)
        else:
            yield LoadFailure(arg, "no such file or directory")


def _task(path: Path, id_path: str) -> FileTask:
    return FileTask(path, id_path, streamed=file_type(path) == "jsonl")


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
