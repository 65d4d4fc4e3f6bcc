"""What the answer path is configured with: passages per question and the relevance threshold."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerSettings:
    """Passages retrieved per question, and the dense cosine a passage needs to be shown.

    The threshold is calibrated for all-MiniLM-L6-v2 (see `answer_min_relevance` in
    rag/config.py); other embedders need their own.
    """

    k: int = 5
    min_relevance: float = 0.4
    # Search a question by its informative part (rag/retrieval/query.py) when no explicit
    # retrieval query is given; docs/evaluation.md measures it.
    focus_query: bool = False

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if not -1.0 <= self.min_relevance <= 1.0:
            raise ValueError(f"min_relevance is a cosine, -1 to 1; got {self.min_relevance}")
