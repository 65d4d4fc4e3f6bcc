"""CSV loader: one document per row, text as 'column: value' lines, every column in metadata."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from indexer.loaders.decode import read_text
from indexer.loaders.limits import LoadLimits
from rag.errors import LoaderError
from rag.types import Document, Section

_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024


def load_csv(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Load a CSV; ids are `doc_id#<id column>` when an `id` column exists, else `doc_id#rowN`."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text), dialect=_sniff(text))
    # read_text guarantees a non-blank line, so a header row exists.
    header = _header(next(row for row in reader if any(cell.strip() for cell in row)))
    id_column = next((name for name in header if name.lower() == "id"), None)
    docs: list[Document] = []
    seen: set[str] = set()
    for n, row in enumerate(reader, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        # Trailing delimiters add empty cells; anything else past the header is a broken row.
        if any(cells[len(header) :]):
            raise LoaderError(f"row {n}: {len(cells)} fields, header has {len(header)}")
        values = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False))
        doc = _row_document(path, doc_id, n, values, id_column)
        if doc.id in seen:
            raise LoaderError(f"row {n}: duplicate id {doc.id!r}")
        seen.add(doc.id)
        docs.append(doc)
    if not docs:
        raise LoaderError("no data rows")
    return docs


def _row_document(
    path: Path, doc_id: str, n: int, values: dict[str, str], id_column: str | None
) -> Document:
    row_id = f"{doc_id}#row{n}"
    if id_column is not None:
        if not values[id_column]:
            raise LoaderError(f"row {n}: empty {id_column!r}")
        row_id = f"{doc_id}#{values[id_column]}"
    text = "\n".join(f"{name}: {value}" for name, value in values.items() if value)
    metadata: dict[str, object] = {**values, "row": n}
    return Document(id=row_id, sections=(Section(text=text),), title=path.stem, metadata=metadata)


def _sniff(text: str) -> type[csv.Dialect] | str:
    """The file's dialect, or plain comma-separated when the sample is ambiguous."""
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    except csv.Error:
        return "excel"


def _header(row: list[str]) -> list[str]:
    """Column names; unnamed columns get `columnN`, a repeated name is an error."""
    header = [name.strip() or f"column{i}" for i, name in enumerate(row, start=1)]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise LoaderError(f"duplicate column {duplicates[0]!r}")
    return header
