"""Progress of an ingest run on stderr, from the first file, stage by stage.

On a terminal: one live bar per stage (files parsed, chunks embedded, chunks written). Not on
a terminal (cron, CI, a pipe): one plain line per file and per written batch, so a long run
shows it is alive and a log says which file it was on.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from indexer.loaders import FileParsed


class ConsoleProgress:
    """An `IngestObserver` that shows progress; `file_parsed` hears of every file."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._began = time.monotonic()
        self._files = self._embedded = self._indexed = 0
        self._bars: list[tqdm[None]] = []
        if self.live:
            self._parse_bar = self._bar("parsed", "file")
            self._embed_bar = self._bar("embedded", "chunk")
            self._index_bar = self._bar("indexed", "chunk")

    def file_parsed(self, parsed: FileParsed) -> None:
        """One file is parsed (or failed)."""
        self._files += 1
        if self.live:
            self._parse_bar.update(1)
            return
        if parsed.failure is not None:
            self._line(f"failed {parsed.path}: {parsed.failure.reason}")
        else:
            self._line(f"parsed {parsed.path}: {parsed.documents} document(s)")

    # -- IngestObserver -----------------------------------------------------------------------

    def parsed(self, docs: int, seconds: float) -> None:
        pass  # counted per file in file_parsed

    def chunked(self, docs: int, chunks: int) -> None:
        pass

    def embedded(self, chunks: int, seconds: float) -> None:
        self._embedded += chunks
        if self.live:
            self._embed_bar.update(chunks)

    def indexed(self, chunks: int, seconds: float) -> None:
        if not chunks:
            return  # a flush
        self._indexed += chunks
        if self.live:
            self._index_bar.update(chunks)
        else:
            rate = self._indexed / max(time.monotonic() - self._began, 1e-9)
            self._line(
                f"wrote {chunks} chunks ({self._indexed} in all, {rate:.0f} chunks/s, "
                f"{self._files} file(s) parsed)"
            )

    def cancelled(self) -> bool:
        return False

    def close(self) -> None:
        """Close the bars (a terminal's cursor returns below them)."""
        for bar in self._bars:
            bar.close()
        self._bars = []

    def _bar(self, desc: str, unit: str) -> tqdm[None]:
        bar: tqdm[None] = tqdm(  # type: ignore[assignment]  # no iterable: items are None
            desc=f"{desc:>8}", unit=unit, file=self.stream, position=len(self._bars), leave=True
        )
        self._bars.append(bar)
        return bar

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self._began
        print(f"[{elapsed:7.1f}s] {text}", file=self.stream, flush=True)
