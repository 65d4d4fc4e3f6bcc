"""Byte-to-text decoding shared by the text formats: never fails on odd bytes."""

from __future__ import annotations

from pathlib import Path

from rag.errors import LoaderError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
BINARY_SNIFF_BYTES = 8192  # the head of a file that decides whether it is text
# Bytes text never holds (control characters other than tab, newlines, form feed, escape).
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\x0c\x1b")
_MAX_CONTROL_SHARE = 0.05


def check_not_binary(head: bytes) -> None:
    """LoaderError when the first bytes of a file are not text (an executable, an image)."""
    if head.startswith(_UTF16_BOMS):
        return  # UTF-16 text is full of zero bytes
    # Executables, images and archives hold zero bytes and other control bytes early on;
    # text, in any 8-bit encoding or UTF-8, holds almost none.
    controls = sum(head.count(b) for b in _CONTROL)
    if b"\x00" in head or controls > _MAX_CONTROL_SHARE * len(head):
        raise LoaderError("binary content, not text")


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
    data = path.read_bytes()
    check_not_binary(data[:BINARY_SNIFF_BYTES])
    text = decode_bytes(data)
    if not text.strip():
        raise LoaderError("empty file")
    # One kind of line end, so heading and line splitting never see a stray CR.
    return text.replace("\r\n", "\n").replace("\r", "\n")
