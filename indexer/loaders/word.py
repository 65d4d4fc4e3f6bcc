"""DOCX loader (python-docx): Heading styles give the heading path, tables become ' | ' rows."""

from __future__ import annotations

import re
from pathlib import Path

import docx
from docx.styles.style import CharacterStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from indexer.loaders.containers import check_zip
from indexer.loaders.limits import LoadLimits
from indexer.loaders.sections import SectionBuilder
from rag.errors import LoaderError
from rag.types import Document

_HEADING_STYLE = re.compile(r"heading (\d)", re.IGNORECASE)
_TITLE_LEVEL = 0  # the "Title" style sits above Heading 1


def load_docx(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Load a .docx; the title is the core-properties title, else the first Title/Heading 1."""
    check_zip(path, limits, "word/document.xml", "DOCX")
    try:
        document = docx.Document(str(path))
    except Exception as exc:
        # python-docx surfaces zip, XML and missing-part errors alike; all mean "corrupt".
        raise LoaderError(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    builder = SectionBuilder()
    headings: list[tuple[int, str]] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.add(_table_text(block))
            continue
        level = _heading_level(block)
        if level is None:
            builder.add(block.text)
        elif block.text.strip():
            builder.heading(level, block.text)
            headings.append((level, " ".join(block.text.split())))
    title = (document.core_properties.title or "").strip()
    if not title:
        title = next((text for level, text in sorted(headings, key=lambda h: h[0])), "")
    return [Document(id=doc_id, sections=builder.build(), title=title or path.stem)]


def _heading_level(paragraph: Paragraph) -> int | None:
    """Heading depth from the paragraph style or the style it is based on; None for body."""
    style: CharacterStyle | None = paragraph.style
    for _ in range(10):  # custom styles chain to a built-in heading a level or two down
        if style is None:
            return None
        name = style.name or ""
        if name.lower() == "title":
            return _TITLE_LEVEL
        match = _HEADING_STYLE.fullmatch(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _table_text(table: Table) -> str:
    """One line per row, cells joined by ' | '; a merged cell is written once."""
    lines = []
    for row in table.rows:
        cells, previous = [], None
        for cell in row.cells:
            if cell._tc is previous:  # horizontal merges repeat the same cell object
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)
