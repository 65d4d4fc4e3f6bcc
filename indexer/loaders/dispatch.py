"""Picks the loader for a file by suffix and stamps the fields every document shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from indexer.loaders.csv_rows import load_csv
from indexer.loaders.html_page import load_html
from indexer.loaders.jsonl import load_jsonl
from indexer.loaders.limits import LoadLimits
from indexer.loaders.markdown import load_markdown
from indexer.loaders.pdf import load_pdf
from indexer.loaders.text import load_txt
from indexer.loaders.word import load_docx
from rag.errors import LoaderError
from rag.types import Document

Loader = Callable[[Path, str, LoadLimits], list[Document]]

# suffix -> (metadata "type", loader)
LOADERS: dict[str, tuple[str, Loader]] = {
    ".txt": ("txt", load_txt),
    ".md": ("md", load_markdown),
    ".markdown": ("md", load_markdown),
    ".html": ("html", load_html),
    ".htm": ("html", load_html),
    ".pdf": ("pdf", load_pdf),
    ".docx": ("docx", load_docx),
    ".csv": ("csv", load_csv),
    ".jsonl": ("jsonl", load_jsonl),
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(LOADERS)


def file_type(path: Path) -> str | None:
    """The metadata type of a supported file ('pdf', 'md', ...), or None."""
    entry = LOADERS.get(path.suffix.lower())
    return entry[0] if entry else None


def load_file(path: Path, doc_id: str, limits: LoadLimits | None = None) -> list[Document]:
    """Load one file into documents; raises LoaderError with a human-readable reason.

    Any other exception of a parser (RecursionError, MemoryError, a bug) becomes a
    LoaderError too: it is this file's problem, never the batch's.
    """
    entry = LOADERS.get(path.suffix.lower())
    if entry is None:
        raise LoaderError(unsupported_reason(path))
    kind, loader = entry
    try:
        if path.stat().st_size == 0:
            raise LoaderError("empty file")
        docs = loader(path, doc_id, limits or LoadLimits())
    except LoaderError:
        raise
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:
        raise LoaderError(f"the {kind} parser failed: {type(exc).__name__}: {exc}") from exc
    return [finish(doc, path, doc_id, kind) for doc in docs]


def finish(doc: Document, path: Path, id_path: str, kind: str) -> Document:
    """Set `source` and the metadata every loader shares; a document without text is an error.

    `path` is the id path (`folder/name.pdf`), `filename` its last part, so a filter can name
    a file without its folder; `title` is the document's title, filterable like the rest.
    """
    if not any(s.text.strip() for s in doc.sections):
        raise LoaderError("no text content")
    metadata = {
        **doc.metadata,
        "path": id_path,
        "filename": id_path.rsplit("/", 1)[-1],
        "type": kind,
    }
    if doc.title:
        metadata["title"] = doc.title
    return replace(doc, source=str(path.resolve()), metadata=metadata)


def unsupported_reason(path: Path) -> str:
    """The LoadFailure reason for a file no loader handles."""
    suffix = path.suffix.lower()
    return f"unsupported file type '{suffix}'" if suffix else "unsupported file type (no suffix)"
