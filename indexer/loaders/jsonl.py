"""JSON Lines loader: BEIR corpus lines and generic records, one document per line.

Accepted lines: `{"_id", "title", "text", "metadata"?}` (BEIR) or `{"id", "text", "title"?,
"metadata"?}`. A bad line does not spoil the file: `iter_lines` reports it and goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.loaders.decode import BINARY_SNIFF_BYTES, check_not_binary, decode_bytes
from indexer.loaders.limits import LoadLimits
from rag.errors import LoaderError
from rag.types import Document, Section


@dataclass(frozen=True)
class LineError:
    """One line that could not become a document."""

    line: int  # 1-based
    reason: str


def iter_lines(path: Path) -> Iterator[Document | LineError]:
    """Yield a document per good line and a LineError per bad one; LoaderError if blank."""
    seen: set[str] = set()
    blank = True
    # Streamed line by line so a multi-GB corpus never sits in memory at once.
    with path.open("rb") as fh:
        check_not_binary(fh.read(BINARY_SNIFF_BYTES))
        fh.seek(0)
        for number, raw in enumerate(fh, start=1):
            line = decode_bytes(raw).strip()
            if not line:
                continue
            blank = False
            try:
                doc = _parse(line)
            except ValueError as exc:
                yield LineError(number, str(exc))
                continue
            if doc.id in seen:
                yield LineError(number, f"duplicate id {doc.id!r}")
                continue
            seen.add(doc.id)
            yield doc
    if blank:
        raise LoaderError("empty file")


def load_jsonl(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Strict form for a single file: the first bad line raises LoaderError naming it."""
    docs = []
    for item in iter_lines(path):
        if isinstance(item, LineError):
            raise LoaderError(f"line {item.line}: {item.reason}")
        docs.append(item)
    return docs


def _parse(line: str) -> Document:
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    doc_id = _field_id(record)
    title = record.get("title") or ""
    text = record.get("text")
    metadata = record.get("metadata") or {}
    if not isinstance(title, str):
        raise ValueError("'title' must be a string")
    if text is not None and not isinstance(text, str):
        raise ValueError("'text' must be a string")
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be an object")
    if text is None and not title:
        raise ValueError("missing 'text'")
    # BEIR corpora hold a few records with a title and no abstract; the title is the text.
    body = (text or "").strip() or title.strip()
    if not body:
        raise ValueError("empty 'text' and 'title'")
    return Document(id=doc_id, sections=(Section(text=body),), title=title, metadata=metadata)


def _field_id(record: dict[str, Any]) -> str:
    raw = record["_id"] if "_id" in record else record.get("id")
    if raw is None:
        raise ValueError("missing '_id' or 'id'")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"id must be a string or integer, got {type(raw).__name__}")
    doc_id = str(raw).strip()
    if not doc_id:
        raise ValueError("empty id")
    return doc_id
