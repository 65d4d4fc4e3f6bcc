"""PDF loader: one section per page (1-based), tables kept in page order as text rows."""

from __future__ import annotations

from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError
from pdfplumber.utils.exceptions import PdfminerException

from indexer.loaders.pdf_page import page_text
from rag.errors import LoaderError
from rag.types import Document, Section


def load_pdf(path: Path, doc_id: str) -> list[Document]:
    """Load a PDF; LoaderError for encrypted, corrupt or text-less (scanned) files."""
    try:
        sections, title, pages = _read(path)
    except LoaderError:
        raise
    except Exception as exc:
        # pdfminer raises dozens of unrelated types on malformed input; each one means
        # "this file cannot be parsed", which a batch reports and moves past.
        raise LoaderError(_reason(exc)) from exc
    if not sections:
        raise LoaderError(f"no extractable text on any of {pages} pages (scanned PDF?)")
    return [
        Document(id=doc_id, sections=sections, title=title or path.stem, metadata={"pages": pages})
    ]


def _read(path: Path) -> tuple[tuple[Section, ...], str, int]:
    sections = []
    with pdfplumber.open(path) as pdf:
        title = pdf.metadata.get("Title")
        for number, page in enumerate(pdf.pages, start=1):
            text = page_text(page).strip()
            page.close()  # drop the page's parsed objects: long PDFs stay in bounded memory
            if text:
                sections.append(Section(text=text, page=number))
        pages = len(pdf.pages)
    clean_title = " ".join(title.split()) if isinstance(title, str) else ""
    return tuple(sections), clean_title, pages


def _reason(exc: Exception) -> str:
    # pdfplumber wraps pdfminer's own error as the first argument.
    inner = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
    if isinstance(inner, PDFEncryptionError):
        return "encrypted PDF"
    detail = str(inner) or "unreadable"
    return f"corrupt PDF: {type(inner).__name__}: {detail}"
