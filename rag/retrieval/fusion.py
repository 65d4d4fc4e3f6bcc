"""Reciprocal rank fusion: a pure function, shared by every engine."""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Hit


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int = 60) -> list[Hit]:
    """Fuse ranked lists: score(c) = sum over lists of 1 / (k + rank), rank starting at 1.

    Ties keep the order in which chunks were first seen, so the result is deterministic.
    A fused hit keeps the dense cosine of any ranking that carried one.
    """
    if k < 1:
        raise ValueError(f"RRF constant k must be >= 1, got {k}")
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    cosine: dict[str, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            key = hit.chunk.id
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            first.setdefault(key, hit)
            if hit.cosine is not None:
                cosine.setdefault(key, hit.cosine)
    order = sorted(scores, key=lambda c: -scores[c])  # sorted() is stable: first-seen wins ties
    return [Hit(chunk=first[c].chunk, score=scores[c], cosine=cosine.get(c)) for c in order]
