"""Byte-to-text decoding shared by the text formats: never fails on odd bytes."""

from __future__ import annotations

from pathlib import Path

from rag.errors import LoaderError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_bytes(data: bytes) -> str:
    """Decode as UTF-8 (BOM stripped), else UTF-16 when it has a BOM, else cp1252."""
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Legacy Windows files are the common non-UTF-8 case; cp1252 leaves five byte
        # values undefined, so `replace` keeps a stray byte from failing the whole file.
        return data.decode("cp1252", errors="replace")


def read_text(path: Path) -> str:
    """Read a text file with universal newlines; LoaderError 'empty file' if blank."""
    text = decode_bytes(path.read_bytes())
    if not text.strip():
        raise LoaderError("empty file")
    # One kind of line end, so heading and line splitting never see a stray CR.
    return text.replace("\r\n", "\n").replace("\r", "\n")
