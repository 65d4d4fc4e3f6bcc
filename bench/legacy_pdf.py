"""The PDF loader this project used before pypdfium2: pdfplumber, with its table finder on
every page. Kept only as the baseline of bench/pdf_ingest.py (same output shape as the old
`indexer.loaders.pdf.load_pdf`: one section per page, the metadata title or the stem)."""

from __future__ import annotations

from pathlib import Path

import pdfplumber

from bench.legacy_pdf_page import page_text
from rag.types import Document, Section


def legacy_load_pdf(path: Path, doc_id: str, pages: int | None = None) -> Document:
    """Load the first `pages` pages (all when None) the way the old loader did."""
    sections = []
    with pdfplumber.open(path) as pdf:
        title = pdf.metadata.get("Title")
        for number, page in enumerate(pdf.pages[:pages], start=1):
            text = page_text(page).strip()
            page.close()
            if text:
                sections.append(Section(text=text, page=number))
    clean = " ".join(title.split()) if isinstance(title, str) else ""
    return Document(
        id=doc_id,
        sections=tuple(sections),
        title=clean or path.stem,
        metadata={"path": doc_id, "type": "pdf"},
    )
