"""Parses files in worker processes, one per core by default, while the caller embeds.

Loading a PDF is CPU work in C and Python; embedding is CPU work in torch. Handing files to
worker processes lets the main process embed and write one batch while the workers parse the
next files, and it isolates each file: a parser that crashes its process, exhausts memory or
runs past `timeout` costs that file only (the worker is killed and replaced) and becomes its
`LoadFailure`. pebble's pool is used because the standard `ProcessPoolExecutor` cannot kill
one task's worker on a timeout.

Results come back in submission order, with at most `window` files in flight, so a caller
that stops early leaves little work behind and memory holds a few parsed files at most.
`.jsonl` files are streamed line by line in the caller's process instead: a multi-GB corpus
must not travel between processes as one message.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, TimeoutError
from dataclasses import dataclass, field
from pathlib import Path

from pebble import ProcessExpired, ProcessPool

from indexer.loaders.dispatch import load_file
from indexer.loaders.failure import LoadFailure
from indexer.loaders.jsonl_stream import stream_jsonl
from indexer.loaders.limits import LoadLimits
from rag.errors import LoaderError
from rag.types import Document


@dataclass(frozen=True)
class FileTask:
    """One file to load: its path and the id its documents get."""

    path: Path
    id_path: str
    streamed: bool = False  # loaded in the caller's process (.jsonl), not in a worker


@dataclass(frozen=True)
class FileParsed:
    """What became of one file, for progress reports."""

    path: Path
    documents: int
    waited: float  # seconds the caller waited for it: parsing not hidden behind other work
    failure: LoadFailure | None = None


@dataclass(frozen=True)
class ParseSettings:
    """Worker processes (0: parse in this process, no timeout), timeout and loader limits."""

    workers: int | None = None  # None: one per core
    timeout: float = 300.0
    limits: LoadLimits = field(default_factory=LoadLimits)

    @property
    def processes(self) -> int:
        return (os.cpu_count() or 1) if self.workers is None else self.workers


def _parse(path: Path, id_path: str, limits: LoadLimits) -> list[Document] | str:
    """Runs in a worker: the documents, or the reason the file failed."""
    try:
        return load_file(path, id_path, limits)
    except LoaderError as exc:
        return str(exc)  # a plain string crosses the process boundary whatever caused it


class ParsePool:
    """Loads files in worker processes; thread-safe, so jobs on several threads can share it.

    `__init__` starts nothing: the workers start with the first file and stop at `close`.
    """

    def __init__(self, settings: ParseSettings | None = None) -> None:
        self.settings = settings or ParseSettings()
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()  # job threads share one pool: it is started once

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> ParsePool:
        """Start the workers now (they take a second or two), e.g. while a model loads."""
        if self.settings.processes > 0:
            self._workers()
        return self

    def close(self) -> None:
        """Stop the workers (a file being parsed is abandoned)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            pool.join()

    def documents(
        self,
        tasks: Iterable[FileTask | LoadFailure],
        on_file: Callable[[FileParsed], None] | None = None,
    ) -> Iterator[Document | LoadFailure]:
        """Each task's documents, or its failure, in task order; `on_file` hears of each file."""
        window: deque[tuple[FileTask | LoadFailure, Future[list[Document] | str] | None]]
        window = deque()
        source = iter(tasks)
        depth = max(2, 2 * self.settings.processes)  # keeps every worker busy while we wait

        def fill() -> None:
            while len(window) < depth:
                task = next(source, None)
                if task is None:
                    return
                window.append((task, self._submit(task)))

        try:
            fill()
            while window:
                task, future = window.popleft()
                fill()
                yield from self._file(task, future, on_file)
        finally:
            # A caller that stops early (a cancelled job) leaves no parsing behind it.
            for _, pending in window:
                if pending is not None:
                    pending.cancel()

    def _file(
        self,
        task: FileTask | LoadFailure,
        future: Future[list[Document] | str] | None,
        on_file: Callable[[FileParsed], None] | None,
    ) -> Iterator[Document | LoadFailure]:
        """One task's items, reporting the file to `on_file` once they are all out."""
        if isinstance(task, LoadFailure):
            yield task
            return
        count, waited = 0, 0.0
        failure: LoadFailure | None = None
        outcome = self._outcome(task, future)
        while True:
            # Only the time spent getting the next item counts as waiting: between items
            # the caller chunks and embeds, which is its work, not parsing.
            began = time.monotonic()
            item = next(outcome, None)
            waited += time.monotonic() - began
            if item is None:
                break
            if isinstance(item, LoadFailure) and item.line is None:
                failure = item
            else:
                count += not isinstance(item, LoadFailure)
            yield item
        if on_file is not None:
            on_file(FileParsed(task.path, count, waited, failure))

    def _submit(self, task: FileTask | LoadFailure) -> Future[list[Document] | str] | None:
        if isinstance(task, LoadFailure) or task.streamed or self.settings.processes == 0:
            return None
        future: Future[list[Document] | str] = self._workers().schedule(
            _parse, (task.path, task.id_path, self.settings.limits), timeout=self.settings.timeout
        )
        return future

    def _outcome(
        self, task: FileTask, future: Future[list[Document] | str] | None
    ) -> Iterator[Document | LoadFailure]:
        if task.streamed:
            yield from stream_jsonl(task.path, task.id_path)
            return
        try:
            result = (
                future.result()
                if future is not None
                else _parse(task.path, task.id_path, self.settings.limits)
            )
        except TimeoutError:
            limit = self.settings.timeout
            result = f"parsing took longer than {limit:g}s (RAG_INGEST_PARSE_TIMEOUT)"
        except ProcessExpired as exc:
            # Killed by the kernel (out of memory) or crashed in C: the file is the cause.
            result = f"the parser's process died (exit code {exc.exitcode})"
        except Exception as exc:  # the result could not come back (it did not pickle, ...)
            result = f"parsing failed: {type(exc).__name__}: {exc}"
        if isinstance(result, str):
            yield LoadFailure(task.path, result)
        else:
            yield from result

    def _workers(self) -> ProcessPool:
        with self._lock:
            return self._started()

    def _started(self) -> ProcessPool:
        if self._pool is None:
            # forkserver: workers fork from a clean process, never from this one, whose torch
            # and tokenizer threads do not survive a fork; the loaders are imported once there.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["indexer.loaders"])
            self._pool = ProcessPool(max_workers=self.settings.processes, context=context)
        return self._pool
