"""Reading PubMedQA (PQA-L) `qa.jsonl`: questions, their abstracts, and yes/no/maybe labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.errors import InvalidInputError
from rag.types import Document, Section

Decision = Literal["yes", "no", "maybe"]
DECISIONS: tuple[Decision, ...] = ("yes", "no", "maybe")
QA_FILE = "qa.jsonl"


@dataclass(frozen=True)
class PubMedQAItem:
    """One expert-labelled question with its abstract."""

    id: str
    question: str
    contexts: tuple[str, ...]  # the abstract's paragraphs, without its conclusion
    long_answer: str
    decision: Decision

    @property
    def doc_id(self) -> str:
        """The id of the document holding this question's abstract."""
        return f"pubmed-{self.id}"


def is_pubmedqa(folder: Path) -> bool:
    """Whether `folder` holds a PubMedQA `qa.jsonl`."""
    return (folder / QA_FILE).is_file()


def load_pubmedqa(folder: Path) -> list[PubMedQAItem]:
    """Every labelled question of the folder, in file order."""
    path = folder / QA_FILE
    if not path.is_file():
        raise InvalidInputError(f"not a PubMedQA folder: {path} is missing")
    items = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                decision = row["final_decision"]
                if decision not in DECISIONS:
                    raise ValueError(f"final_decision {decision!r}")
                items.append(
                    PubMedQAItem(
                        str(row["id"]),
                        row["question"],
                        tuple(row["contexts"]),
                        row.get("long_answer", ""),
                        decision,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(f"{path}:{number}: bad PubMedQA row: {exc}") from exc
    return items


def pubmedqa_documents(items: list[PubMedQAItem]) -> list[Document]:
    """One document per abstract, one section per paragraph.

    The question is not used as the title, though it usually paraphrases the article's title:
    it would let retrieval match the question against itself.
    """
    return [
        Document(
            id=item.doc_id,
            sections=tuple(Section(text) for text in item.contexts),
            title=f"PubMed {item.id}",
            source=f"pubmedqa:{item.id}",
            metadata={"dataset": "pubmedqa"},
        )
        for item in items
    ]
