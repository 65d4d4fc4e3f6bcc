"""PDF loader (pypdfium2): one section per page (1-based), text in visual reading lines."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium

from indexer.loaders.limits import LoadLimits
from indexer.loaders.pdf_headings import OutlineEntry, PageHeadings, outline_paths
from indexer.loaders.pdf_layout import page_text
from rag.errors import LoaderError
from rag.types import Document, Section

# SEC EDGAR stamps the filing's accession number as the title: 0000320193-19-000119.
_ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")
# Titles that word processors and converters write when the author set none.
_PLACEHOLDERS = {"document", "untitled", "title", "pdf", "none", "unknown", "microsoft word"}
_FILE_NAME = re.compile(r".*\.(docx?|pdf|rtf|odt|html?|txt|xlsx?|pptx?)", re.IGNORECASE)


def load_pdf(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Load a PDF; LoaderError for encrypted, corrupt or text-less (scanned) files."""
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise LoaderError(_reason(exc)) from exc
    try:
        sections = []
        pages = len(pdf)
        outline = outline_paths(_outline(pdf), pages)
        detected = PageHeadings()
        for number in range(1, pages + 1):
            page = pdf[number - 1]
            try:
                text = page_text(page).strip()
            finally:
                page.close()  # long PDFs stay in bounded memory
            if text:
                # Detected per page even with an outline: the detector carries parts along.
                found = detected.page(text)
                headings = outline[number - 1] if any(outline) else found
                sections.append(Section(text=text, page=number, heading_path=headings))
        title = pdf.get_metadata_dict().get("Title", "")
    finally:
        pdf.close()
    if not sections:
        raise LoaderError(f"no extractable text on any of {pages} pages (scanned PDF?)")
    return [
        Document(
            id=doc_id,
            sections=tuple(sections),
            title=meaningful_title(title) or path.stem,
            metadata={"pages": pages},
        )
    ]


def _outline(pdf: pdfium.PdfDocument) -> list[OutlineEntry]:
    """The PDF's bookmarks that point at a page; [] when it has none or they are broken."""
    entries = []
    try:
        for bookmark in pdf.get_toc():
            dest = bookmark.get_dest()
            index = None if dest is None else dest.get_index()
            title = bookmark.get_title()
            if index is not None and title.strip():
                entries.append(OutlineEntry(bookmark.level, title, index + 1))
    except pdfium.PdfiumError:
        return []  # a damaged outline costs the headings, not the document
    return entries


def meaningful_title(title: str) -> str:
    """The metadata title when it names the document; '' for ids, placeholders, file names."""
    title = " ".join(title.split())
    lowered = title.lower()
    if (
        sum(c.isalpha() for c in title) < 3
        or _ACCESSION.fullmatch(title)
        or lowered in _PLACEHOLDERS
        or lowered.startswith("microsoft word - ")
        or _FILE_NAME.fullmatch(title)
    ):
        return ""
    return title


def _reason(exc: pdfium.PdfiumError) -> str:
    message = str(exc)
    if "password" in message.lower():
        return "encrypted PDF"
    return f"corrupt PDF: {message}"
