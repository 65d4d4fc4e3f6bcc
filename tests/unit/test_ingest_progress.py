"""Ingest progress on stderr: plain lines off a terminal, live bars on one."""

from __future__ import annotations

import io
from pathlib import Path

from indexer.loaders import FileParsed, LoadFailure
from indexer.progress import ConsoleProgress


def test_plain_lines_name_each_file_and_each_written_batch() -> None:
    out = io.StringIO()
    progress = ConsoleProgress(out)  # a StringIO is not a terminal
    progress.file_parsed(FileParsed(Path("a.pdf"), 1, 0.5))
    progress.file_parsed(FileParsed(Path("b.txt"), 0, 0.0, LoadFailure(Path("b.txt"), "empty")))
    progress.embedded(512, 3.0)
    progress.indexed(512, 0.1)
    progress.indexed(0, 0.2)  # a flush: no line
    progress.close()
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "parsed a.pdf: 1 document(s)",
        "failed b.txt: empty",
        lines[2],
    ]
    assert lines[2].startswith("wrote 512 chunks (512 in all, ")
    assert lines[2].endswith("2 file(s) parsed)")


def test_live_bars_count_files_and_chunks() -> None:
    out = io.StringIO()
    progress = ConsoleProgress(out, live=True)
    progress.file_parsed(FileParsed(Path("a.pdf"), 1, 0.5))
    progress.embedded(7, 1.0)
    progress.indexed(7, 0.1)
    progress.close()
    text = out.getvalue()
    assert "parsed: " in text and "1file" in text.replace(" ", "")
    assert "embedded: " in text and "indexed: " in text and "7chunk" in text.replace(" ", "")
