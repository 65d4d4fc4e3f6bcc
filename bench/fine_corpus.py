"""The fine-grained corpus: every 1- to 4-sentence window of the shared corpora's text.

Sources: SciFact abstracts (with their titles), PubMedQA contexts and long answers, TAT-QA
paragraphs, plus TAT-QA table rows as one piece each. Windows never cross a paragraph, so each
piece is a plausible small chunk; overlapping windows are how a 12 MB corpus yields close to
200k pieces (182,735; windows of 1-3 sentences alone give 150k). Queries are the SciFact
claims, which appear in none of the sources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.paths import require_data

WINDOWS = (1, 2, 3, 4)
# End of a sentence: . ? or ! (maybe closed by a quote or bracket), space, then a capital,
# digit or opening quote/bracket. Abbreviations like "e.g. the" stay inside the sentence.
_SENTENCE_END = re.compile(r"(?<=[.?!])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Piece:
    """One small chunk: its stable id, source document, corpus, title and text."""

    id: str
    doc_id: str
    corpus: str
    title: str
    text: str


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip()]


def windows(doc_id: str, corpus: str, title: str, paragraphs: list[str]) -> Iterator[Piece]:
    """Every 1-4 sentence window of each paragraph, ids `doc:paragraph:start+size`."""
    for p, paragraph in enumerate(paragraphs):
        sents = sentences(paragraph)
        for size in WINDOWS:
            for start in range(len(sents) - size + 1):
                text = " ".join(sents[start : start + size])
                yield Piece(f"{doc_id}:{p}:{start}+{size}", doc_id, corpus, title, text)


def _scifact() -> Iterator[Piece]:
    with require_data("scifact", "corpus.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            text = rec["text"].strip() or rec["title"]
            yield from windows(f"scifact-{rec['_id']}", "scifact", rec["title"], [text])


def _pubmedqa() -> Iterator[Piece]:
    with require_data("pubmedqa", "qa.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            paragraphs = [*rec["contexts"], rec["long_answer"]]
            yield from windows(f"pubmedqa-{rec['id']}", "pubmedqa", "", paragraphs)


def _tatqa() -> Iterator[Piece]:
    contexts = json.loads(require_data("tatqa", "tatqa_dataset_dev.json").read_text())
    for ctx in contexts:
        doc_id = f"tatqa-{ctx['table']['uid']}"
        paragraphs = [p["text"] for p in sorted(ctx["paragraphs"], key=lambda p: p["order"])]
        yield from windows(doc_id, "tatqa", "", paragraphs)
        for r, row in enumerate(ctx["table"]["table"]):
            cells = [c.strip() for c in row if c.strip()]
            if cells:
                yield Piece(f"{doc_id}:table:{r}", doc_id, "tatqa", "", " | ".join(cells))


def fine_pieces() -> list[Piece]:
    """All pieces, in a fixed order (corpus, document, paragraph, window size, start)."""
    return [*_scifact(), *_pubmedqa(), *_tatqa()]


def scifact_queries() -> list[tuple[str, str]]:
    """(id, claim) of every SciFact query: held-out texts, none of them in the pieces."""
    path: Path = require_data("scifact", "queries.jsonl")
    with path.open() as fh:
        return [(str(r["_id"]), r["text"]) for r in map(json.loads, fh) if r["text"].strip()]
