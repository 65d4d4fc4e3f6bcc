"""Reading TAT-QA (tables and text from annual reports) and scoring answers against it.

Scoring follows the spirit of the official script in a simpler form: exact match and token
F1 after normalising case, punctuation, articles and scale words; numbers compare by value,
so "$1,496.5", "1496.50" and "(12.6)" vs "-12.6" match. Multi-span golds are one string.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InvalidInputError
from rag.types import Document, Section

DEV_FILE = "tatqa_dataset_dev.json"
_ARTICLES = {"a", "an", "the"}
_SCALE_WORDS = {"thousand", "thousands", "million", "millions", "billion", "billions", "percent"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_EDGE = "$%()[]{}\"'.,;:!?€£"


@dataclass(frozen=True)
class TatQAQuestion:
    """One question with its gold answer spans (or number, as a string)."""

    uid: str
    question: str
    answers: tuple[str, ...]
    answer_type: str  # span, multi-span, arithmetic, count
    scale: str


@dataclass(frozen=True)
class TatQAContext:
    """One report extract: a table, its paragraphs, and the questions asked of them."""

    uid: str  # the table's uid
    table: tuple[tuple[str, ...], ...]
    paragraphs: tuple[str, ...]
    questions: tuple[TatQAQuestion, ...]

    @property
    def doc_id(self) -> str:
        """The id of the document holding this report extract."""
        return f"tatqa-{self.uid}"


def tatqa_file(folder: Path) -> Path | None:
    """The TAT-QA file of `folder` (the dev set first), or None."""
    if (folder / DEV_FILE).is_file():
        return folder / DEV_FILE
    found = sorted(folder.glob("tatqa_dataset_*.json"))
    return found[0] if found else None


def load_tatqa(folder: Path) -> list[TatQAContext]:
    """Every context of the folder's TAT-QA file with its questions, in file order."""
    path = tatqa_file(folder)
    if path is None:
        raise InvalidInputError(f"not a TAT-QA folder: no tatqa_dataset_*.json in {folder}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [_context(entry) for entry in raw]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"{path}: bad TAT-QA data: {exc!r}") from exc


def _context(entry: dict[str, Any]) -> TatQAContext:
    table = tuple(tuple(str(cell) for cell in row) for row in entry["table"]["table"])
    paragraphs = tuple(p["text"] for p in sorted(entry["paragraphs"], key=lambda p: p["order"]))
    questions = tuple(
        TatQAQuestion(
            q["uid"], q["question"], gold_strings(q["answer"]), q["answer_type"], q["scale"]
        )
        for q in entry["questions"]
    )
    return TatQAContext(entry["table"]["uid"], table, paragraphs, questions)


def gold_strings(answer: Any) -> tuple[str, ...]:
    """The gold answer as strings: a list of spans, or one number."""
    if isinstance(answer, list):
        return tuple(str(a) for a in answer)
    return (str(answer),)


def table_text(rows: tuple[tuple[str, ...], ...]) -> str:
    """A table as lines of cells joined by " | ", empty rows dropped."""
    lines = [" | ".join(c.strip() for c in row) for row in rows if any(c.strip() for c in row)]
    return "\n".join(lines)


def tatqa_documents(contexts: list[TatQAContext]) -> list[Document]:
    """One document per report extract: the table first, then its paragraphs."""
    return [
        Document(
            id=ctx.doc_id,
            sections=(Section(table_text(ctx.table)), *(Section(p) for p in ctx.paragraphs)),
            title=f"Annual report extract {ctx.uid[:8]}",
            source=f"tatqa:{ctx.uid}",
            metadata={"dataset": "tatqa"},
        )
        for ctx in contexts
    ]


def normalize_tokens(text: str) -> list[str]:
    """Lower-cased tokens without punctuation, articles or scale words; numbers by value."""
    tokens = []
    for raw in text.lower().replace("\u2013", "-").split():
        negative = raw.startswith("(") and raw.rstrip(".,;").endswith(")")
        token = raw.strip(_EDGE)
        number = token.replace(",", "")
        if _NUMBER.match(number):
            value = -float(number) if negative and not number.startswith("-") else float(number)
            tokens.append(f"{value:.4f}".rstrip("0").rstrip("."))
            continue
        token = re.sub(r"[^\w\s-]", "", token)
        if token and token not in _ARTICLES and token not in _SCALE_WORDS:
            tokens.append(token)
    return tokens


def exact_match(prediction: str, gold: tuple[str, ...]) -> float:
    """1.0 when the normalised prediction equals the normalised gold (spans joined)."""
    return float(normalize_tokens(prediction) == normalize_tokens(" ".join(gold)))


def token_f1(prediction: str, gold: tuple[str, ...]) -> float:
    """Harmonic mean of token precision and recall against the gold spans joined."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(" ".join(gold))
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
