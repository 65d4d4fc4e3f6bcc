"""Retrieval dev sets in one shape: a corpus to ingest, queries, and judged units.

Three kinds, picked by what `--dataset` points at:
- a BEIR folder (corpus.jsonl, queries.jsonl, qrels/): judged documents (SciFact);
- a TAT-QA folder: each question against every context, its own context the judgement;
- a page-set JSONL (evaluation/sets/filings_pages.jsonl): analyst questions over a folder of
  PDFs, each judged by its evidence page(s); a hit counts by (file, page).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evaluation.beir import load_beir
from evaluation.tatqa import load_tatqa, tatqa_documents, tatqa_file
from rag.errors import InvalidInputError
from rag.types import Document, Hit

Unit = Literal["doc", "page"]


@dataclass(frozen=True)
class RetrievalSet:
    """Queries with their judged units, and how to fill a KB with the corpus."""

    name: str
    key: str  # what identifies the corpus in the cached KB's name
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> unit id -> grade
    unit: Unit
    paths: tuple[Path, ...] = ()  # files or folders to ingest
    include: tuple[str, ...] = ()
    documents: Callable[[], list[Document]] | None = None  # or documents built in memory

    def unit_of(self, hit: Hit) -> str:
        """The judged unit a hit belongs to: its document, or its document's page."""
        if self.unit == "doc":
            return hit.doc_id
        return page_unit(Path(hit.doc_id).name, hit.chunk.page)


def page_unit(file: str, page: int | None) -> str:
    """A page's unit id: `FILE.pdf#12`."""
    return f"{file}#{page}"


def load_retrieval_set(path: Path, split: str = "test", corpus: Path | None = None) -> RetrievalSet:
    """The dev set at `path`: a BEIR folder, a TAT-QA folder, or a page-set JSONL file."""
    if path.is_file() and path.suffix == ".jsonl":
        return load_page_set(path, corpus)
    if path.is_dir() and tatqa_file(path) is not None:
        return load_tatqa_retrieval(path)
    if path.is_dir() and (path / "corpus.jsonl").exists():
        beir = load_beir(path, split)
        key = str(beir.corpus.resolve())
        return RetrievalSet(beir.name, key, beir.queries, beir.qrels, "doc", (beir.corpus,))
    raise InvalidInputError(
        f"{path} is not a dev set: give a BEIR folder, a TAT-QA folder or a page-set .jsonl"
    )


def load_tatqa_retrieval(folder: Path) -> RetrievalSet:
    """TAT-QA as retrieval: every question against all contexts; its own is the one judged."""
    contexts = load_tatqa(folder)
    queries = {q.uid: q.question for ctx in contexts for q in ctx.questions}
    qrels = {q.uid: {ctx.doc_id: 1} for ctx in contexts for q in ctx.questions}
    key = str((folder / "tatqa").resolve())
    return RetrievalSet(
        "tatqa", key, queries, qrels, "doc", documents=lambda: tatqa_documents(contexts)
    )


def load_page_set(path: Path, corpus: Path | None = None) -> RetrievalSet:
    """A page-set JSONL: `{"id", "question", "file", "pages": [..]}` per line.

    The PDFs are in `corpus`, by default the folder a `"corpus"` line names relative to the
    set's file (`{"corpus": "../../../shared/data/filings"}`).
    """
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    folder = corpus
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if "corpus" in record:
                folder = folder or (path.parent / record["corpus"])
                continue
            qid = str(record["id"])
            queries[qid] = str(record["question"])
            qrels[qid] = {page_unit(record["file"], int(p)): 1 for p in record["pages"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}:{number}: bad page-set record: {exc!r}") from exc
    if folder is None or not folder.is_dir():
        raise InvalidInputError(f"{path}: the PDF folder {folder} is absent (give --corpus)")
    missing = {u.split("#")[0] for q in qrels.values() for u in q} - {
        p.name for p in folder.iterdir()
    }
    if missing:
        raise InvalidInputError(f"{path}: files not in {folder}: {', '.join(sorted(missing))}")
    key = f"{folder.resolve()}|*.pdf"  # the corpus only: editing questions costs no re-embedding
    return RetrievalSet(path.stem, key, queries, qrels, "page", (folder,), ("*.pdf",))
