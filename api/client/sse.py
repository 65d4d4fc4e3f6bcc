"""Incremental server-sent-events decoder: bytes in, `(event, data)` pairs out.

Chunks may split anywhere: inside a line, a `\\r\\n` pair or a UTF-8 character. Only the
`event` and `data` fields matter here (`id`, `retry` and comments are skipped); several `data`
lines of one event join with newlines, as the SSE specification says.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator


class SSEDecoder:
    """Feeds on chunks of a `text/event-stream` body and yields each complete event."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[tuple[str, str]]:
        """The events that `chunk` completes."""
        self._buffer += self._text.decode(chunk)
        yield from self._lines(final=False)

    def close(self) -> Iterator[tuple[str, str]]:
        """The events that the end of the stream completes (a held `\\r` ends a line).

        An event still missing its blank line is dropped, as the SSE specification says:
        the stream was cut inside it.
        """
        self._buffer += self._text.decode(b"", final=True)
        yield from self._lines(final=True)

    def _lines(self, *, final: bool) -> Iterator[tuple[str, str]]:
        buffer, held = self._buffer, ""
        # A trailing \r may be the first half of a \r\n that the next chunk completes.
        if not final and buffer.endswith("\r"):
            buffer, held = buffer[:-1], "\r"
        lines = buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        # The last piece has no line end yet; at the end of the stream it never will.
        last = lines.pop()
        self._buffer = "" if final else last + held
        for line in lines:
            yield from self._line(line)

    def _line(self, line: str) -> Iterator[tuple[str, str]]:
        if not line:
            if self._data:
                yield self._event or "message", "\n".join(self._data)
            self._event, self._data = "", []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)


def events(chunks: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """Every event of a whole stream of chunks."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
