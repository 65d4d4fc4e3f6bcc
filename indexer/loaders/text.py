"""Plain-text loader: the whole file is one section."""

from __future__ import annotations

from pathlib import Path

from indexer.loaders.decode import read_text
from indexer.loaders.limits import LoadLimits
from rag.types import Document, Section


def load_txt(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Load a .txt file as one document with one section; the title is the file stem."""
    text = read_text(path).strip()
    return [Document(id=doc_id, sections=(Section(text=text),), title=path.stem)]
