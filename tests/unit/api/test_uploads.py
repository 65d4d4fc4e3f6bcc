"""Uploaded file names and the streaming multipart writer: files land whole, limits hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.errors import ApiError
from api.uploads import safe_filename, save_multipart

BOUNDARY = "xYzBoundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    """A multipart body of (field, filename or None, data) parts."""
    out = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    # Small pieces: boundaries and headers arrive split across chunks.
    for start in range(0, len(data), size):
        yield data[start : start + size]


def save(data: bytes, folder: Path, limit: int = 1 << 20) -> list[str]:
    folder.mkdir(exist_ok=True)
    return asyncio.run(save_multipart(chunks(data), CONTENT_TYPE, folder, limit))


def test_file_parts_are_written_whole_and_in_order(tmp_path: Path) -> None:
    big = bytes(range(256)) * 400  # binary, with CRLFs and dashes inside
    data = body(
        [
            ("files", "b.pdf", big),
            ("note", None, b"an extra field is read past"),
            ("files", "C:\\Users\\me\\a.md", b"# A\r\n\r\n--not a boundary"),
            ("files", "empty.txt", b""),
        ]
    )
    names = save(data, tmp_path / "up")
    assert names == ["b.pdf", "a.md", "empty.txt"]
    assert (tmp_path / "up" / "b.pdf").read_bytes() == big
    assert (tmp_path / "up" / "a.md").read_bytes() == b"# A\r\n\r\n--not a boundary"
    assert (tmp_path / "up" / "empty.txt").read_bytes() == b""
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == ["a.md", "b.pdf", "empty.txt"]


def test_over_the_limit_is_413(tmp_path: Path) -> None:
    data = body([("files", "big.txt", b"x" * 5000)])
    with pytest.raises(ApiError) as caught:
        save(data, tmp_path / "up", limit=4096)
    assert caught.value.status == 413
    assert (caught.value.type, caught.value.code) == ("request_too_large", "upload_too_large")


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([("files", None, b"text")], "missing_filename"),
        ([("files", "a.md", b"1"), ("files", "dir/a.md", b"2")], "duplicate_filename"),
        ([("files", "../etc/passwd", b"x"), ("files", ".env", b"x")], "invalid_filename"),
    ],
)
def test_bad_parts_are_400(
    tmp_path: Path, parts: list[tuple[str, str | None, bytes]], code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        save(body(parts), tmp_path / "up")
    assert caught.value.status == 400 and caught.value.code == code


def test_a_malformed_body_is_400(tmp_path: Path) -> None:
    with pytest.raises(ApiError) as caught:
        save(b"this is not multipart at all", tmp_path / "up")
    assert caught.value.status == 400 and caught.value.code == "invalid_multipart"
    cut = body([("files", "a.md", b"# A\n\ncut short")])[:-30]
    with pytest.raises(ApiError) as truncated:
        save(cut, tmp_path / "up")
    assert truncated.value.code == "invalid_multipart" and "closing" in truncated.value.message
    with pytest.raises(ApiError) as missing:
        asyncio.run(save_multipart(chunks(b""), "multipart/form-data", tmp_path, 100))
    assert missing.value.code == "invalid_multipart" and "boundary" in missing.value.message


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("report.pdf", "report.pdf"),
        ("a/b/c.md", "c.md"),
        ("C:\\x\\y.txt", "y.txt"),
        (" n.md ", "n.md"),
    ],
)
def test_safe_filename_takes_the_base_name(raw: str, name: str) -> None:
    assert safe_filename(raw) == name


@pytest.mark.parametrize(
    "raw", ["", "dir/", ".hidden", "..", "a/..", "x..y.md", "tab\there.md", "é" * 200]
)
def test_safe_filename_refuses_names_that_hide_or_escape(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        safe_filename(raw)
    assert caught.value.status == 400 and repr(raw) in caught.value.message
