"""The table-aware page reader of the old PDF loader (pdfplumber), kept as a benchmark baseline.

pdfplumber's table finder often misreads real filings: it drops cells or stacks a whole
column into one cell. A table is therefore only trusted when its cells hold every character
inside its box and look like one value per cell; otherwise the plain page text, which keeps
every number on its row, stands in for it. A trusted table's characters are taken out of
the prose so its words appear once.
"""

from __future__ import annotations

import re
from typing import Any

from pdfplumber.page import Page
from pdfplumber.table import Table

BBox = tuple[float, float, float, float]
Rows = list[list[str]]

# A cell of several lines that are all numbers means the finder missed the row rulings.
_NUMERIC_LINE = re.compile(r"[\s$€£%()\-\u2013\u2014.,\d]*")


def page_text(page: Page) -> str:
    """The page's text; trusted tables appear as rows at their place on the page."""
    tables = [(t.bbox, rows) for t in page.find_tables() if (rows := _trusted_rows(page, t))]
    if not tables:
        return str(page.extract_text() or "")
    boxes = [bbox for bbox, _ in tables]
    prose = page.filter(lambda obj: obj.get("object_type") != "char" or not _inside(obj, boxes))
    blocks = [(line["top"], line["text"]) for line in prose.extract_text_lines()]
    blocks += [(bbox[1], "\n".join(" | ".join(r) for r in rows)) for bbox, rows in tables]
    blocks.sort(key=lambda block: float(block[0]))
    return "\n".join(str(text) for _, text in blocks)


def _trusted_rows(page: Page, table: Table) -> Rows:
    """The table's rows, or [] when it is not a faithful, well-formed table."""
    raw: list[list[str | None]] = table.extract()
    if any(_stacked_numbers(cell) for row in raw for cell in row):
        return []
    captured = sum(len("".join((cell or "").split())) for row in raw for cell in row)
    boxes = [table.bbox]
    present = sum(1 for c in page.chars if not c["text"].isspace() and _inside(c, boxes))
    if captured != present:
        return []
    rows = [[" ".join((cell or "").split()) for cell in row] for row in raw]
    # Spacer columns (empty in every row) come from double rulings; drop them.
    keep = [j for j in range(len(rows[0])) if any(row[j] for row in rows)] if rows else []
    rows = [[row[j] for j in keep] for row in rows if any(row[j] for j in keep)]
    if len(rows) < 2 or len(keep) < 2:
        return []
    return rows


def _stacked_numbers(cell: str | None) -> bool:
    lines = [line for line in (cell or "").split("\n") if line.strip()]
    return len(lines) > 1 and all(_NUMERIC_LINE.fullmatch(line) for line in lines)


def _inside(obj: dict[str, Any], boxes: list[BBox]) -> bool:
    """Whether the object's midpoint lies in any box (pdfplumber assigns cells the same way)."""
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)
