"""Uploaded files: safe names, and a multipart body streamed to disk under a size limit.

The body is parsed as it arrives and each file part goes straight to its file in the job's
upload folder, so an upload never sits whole in memory and the limit is enforced on the bytes
received, not after a spool has swallowed them. Disk writes run off the event loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from api.errors import ApiError

MAX_FILENAME_BYTES = 255  # the usual file-system limit on one name
MAX_FILES = 1000


def bad_request(message: str, code: str, param: str | None = "files") -> ApiError:
    return ApiError(400, message, type="invalid_request_error", code=code, param=param)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"upload over the limit of {limit} bytes (RAG_API_MAX_UPLOAD_BYTES)",
        type="request_too_large",
        code="upload_too_large",
    )


def safe_filename(raw: str) -> str:
    """The document id of an uploaded file: its base name, which must be a plain file name.

    Browsers may send a path; only the last component names the document. Names that could
    escape the upload folder or hide (`..`, a leading dot) are refused, not rewritten, so a
    document id is always exactly what the caller can see it uploaded.
    """
    name = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    problem = None
    if not name:
        problem = "it is empty"
    elif name.startswith("."):
        problem = "it starts with '.'"
    elif ".." in name:
        problem = "it contains '..'"
    elif len(name.encode()) > MAX_FILENAME_BYTES:
        problem = f"it is longer than {MAX_FILENAME_BYTES} bytes"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "it contains control characters"
    if problem:
        raise bad_request(f"invalid file name {raw!r}: {problem}", "invalid_filename")
    return name


class _Parts:
    """python-multipart callbacks: note each file part's name and data; write nothing yet."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.names: list[str] = []
        self.pending: list[tuple[str, bytes | None]] = []  # (file, data); None closes it
        self._header = b""
        self._value = b""
        self._disposition = b""
        self._current: str | None = None  # None: a part we read past (another field)

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._current = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != self.field.encode():
            return
        raw = options.get(b"filename")
        if raw is None:
            raise bad_request(
                f"each {self.field!r} part must be a file with a filename", "missing_filename"
            )
        try:
            name = safe_filename(raw.decode())
        except UnicodeDecodeError:
            raise bad_request(f"file name {raw!r} is not UTF-8", "invalid_filename") from None
        if name in self.names:
            raise bad_request(f"file {name!r} is uploaded twice", "duplicate_filename")
        if len(self.names) >= MAX_FILES:
            raise bad_request(f"more than {MAX_FILES} files in one upload", "too_many_files")
        self.names.append(name)
        self._current = name
        self.pending.append((name, b""))  # an empty part still makes a (failing) file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self.pending.append((self._current, bytes(data[start:end])))

    def on_part_end(self) -> None:
        if self._current is not None:
            self.pending.append((self._current, None))
            self._current = None


class _Writer:
    """Applies queued part data to files in the folder; runs in a worker thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[str, BinaryIO] = {}

    def apply(self, pending: list[tuple[str, bytes | None]]) -> None:
        for name, data in pending:
            handle = self._open.get(name)
            if handle is None:
                if data is None:
                    continue
                # 0600 like everything under the data directory (rag/files.py says why).
                fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                handle = self._open[name] = os.fdopen(fd, "wb")
            if data is None:
                handle.close()
                del self._open[name]
            else:
                handle.write(data)

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


def boundary_of(content_type: str) -> bytes:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise bad_request("multipart body without a boundary", "invalid_multipart", None)
    return boundary


async def save_multipart(
    stream: AsyncIterator[bytes], content_type: str, folder: Path, limit: int, field: str = "files"
) -> list[str]:
    """Write the `field` file parts of a multipart body into `folder`; their names in order.

    Raises 413 once more than `limit` bytes of body have arrived, 400 for a malformed body or
    a bad file name. The caller removes the folder on failure.
    """
    parts = _Parts(field)
    callbacks = {
        name: getattr(parts, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary_of(content_type), callbacks)  # type: ignore[arg-type]
    writer = _Writer(folder)
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > limit:
                raise too_large(limit)
            parser.write(chunk)
            if parts.pending:
                batch, parts.pending = parts.pending, []
                await asyncio.to_thread(writer.apply, batch)
        parser.finalize()
        if parser.state != MultipartState.END:  # a cut body would leave a truncated file
            raise bad_request(
                "multipart body ended before its closing boundary", "invalid_multipart", None
            )
        await asyncio.to_thread(writer.apply, parts.pending)
    except FormParserError as exc:
        raise bad_request(f"malformed multipart body: {exc}", "invalid_multipart", None) from None
    finally:
        await asyncio.to_thread(writer.close)
    return parts.names
