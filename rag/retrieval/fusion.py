"""Fusion of a dense and a BM25 ranking: pure functions, shared by every engine.

Three kinds, each with a weight on the dense side (the BM25 side gets 1 - weight):

- `rrf`: reciprocal rank fusion, weighted. With weight 0.5 it is the classic, equal-weight
  RRF (scores are doubled so they match it exactly). Ranks only: a weak ranker's top ranks
  count as much as a strong one's.
- `minmax`: a convex combination of scores, each list min-max normalised to [0, 1]
  (Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023).
- `tmm`: the same with the theoretical minimum of each scorer (cosine -1, BM25 0) in place
  of the observed one, so a list whose scores are all close keeps them close.

A chunk missing from one list gets that list's normalised minimum (0): it was not among the
candidates, so it scores at most as well as the worst candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from rag.types import FusionKind, Hit

FUSION_KINDS: tuple[FusionKind, ...] = get_args(FusionKind)
# Theoretical minima of the two scorers, for `tmm`: cosine similarity and BM25.
COSINE_FLOOR = -1.0
BM25_FLOOR = 0.0


@dataclass(frozen=True)
class Fusion:
    """How hybrid search combines its two rankings: a kind and the dense side's weight."""

    kind: FusionKind = "rrf"
    weight: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in FUSION_KINDS:
            raise ValueError(f"unknown fusion {self.kind!r}: use one of {', '.join(FUSION_KINDS)}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"fusion weight must be between 0 and 1, got {self.weight}")

    @property
    def label(self) -> str:
        """A short name for reports: `rrf`, `rrf w=0.7`, `minmax w=0.5`."""
        if self.kind == "rrf" and self.weight == 0.5:
            return "rrf"
        return f"{self.kind} w={self.weight:g}"


def fuse(dense: Sequence[Hit], bm25: Sequence[Hit], fusion: Fusion, rrf_k: int = 60) -> list[Hit]:
    """The two rankings fused as `fusion` says, best first."""
    weights = (fusion.weight, 1.0 - fusion.weight)
    if fusion.kind == "rrf":
        return reciprocal_rank_fusion([dense, bm25], rrf_k, [2 * w for w in weights])
    dense_scores, bm25_scores = [_dense_score(h) for h in dense], [h.score for h in bm25]
    if fusion.kind == "minmax":
        scores = [min_max(dense_scores), min_max(bm25_scores)]
    else:
        scores = [
            theoretical_min_max(dense_scores, COSINE_FLOOR),
            theoretical_min_max(bm25_scores, BM25_FLOOR),
        ]
    return convex_combination([dense, bm25], scores, weights)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]], k: int = 60, weights: Sequence[float] | None = None
) -> list[Hit]:
    """Fuse ranked lists: score(c) = sum over lists of weight / (k + rank), rank from 1.

    Without weights every list weighs 1 (classic RRF). Ties keep the order in which chunks
    were first seen, so the result is deterministic. A fused hit keeps the dense cosine of
    any ranking that carried one.
    """
    if k < 1:
        raise ValueError(f"RRF constant k must be >= 1, got {k}")
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores = [
        [w / (k + rank) for rank in range(1, len(r) + 1)]
        for r, w in zip(rankings, weights, strict=True)
    ]
    return _combine(rankings, scores)


def convex_combination(
    rankings: Sequence[Sequence[Hit]],
    scores: Sequence[Sequence[float]],
    weights: Sequence[float],
) -> list[Hit]:
    """score(c) = sum over lists of weight * (c's normalised score there, else 0)."""
    if not len(rankings) == len(scores) == len(weights):
        raise ValueError("one score list and one weight per ranking are needed")
    weighted = [
        [w * s for s in list_scores] for list_scores, w in zip(scores, weights, strict=True)
    ]
    return _combine(rankings, weighted)


def min_max(scores: Sequence[float]) -> list[float]:
    """Scores mapped to [0, 1] by the list's own minimum and maximum; all-equal ones to 1."""
    return _scaled(scores, min(scores, default=0.0))


def theoretical_min_max(scores: Sequence[float], floor: float) -> list[float]:
    """Scores mapped to [0, 1] by the scorer's theoretical minimum `floor` and the list's max."""
    return _scaled(scores, floor)


def _scaled(scores: Sequence[float], low: float) -> list[float]:
    if not scores:
        return []
    span = max(scores) - low
    if span <= 0.0:
        return [1.0] * len(scores)
    return [max(0.0, (s - low) / span) for s in scores]


def _dense_score(hit: Hit) -> float:
    # A dense hit's score is its cosine on every engine; `cosine` says so explicitly.
    return hit.score if hit.cosine is None else hit.cosine


def _combine(rankings: Sequence[Sequence[Hit]], scores: Sequence[Sequence[float]]) -> list[Hit]:
    """Sum each chunk's scores over the rankings; stable on ties (first seen wins)."""
    total: dict[str, float] = {}
    first: dict[str, Hit] = {}
    cosine: dict[str, float] = {}
    for ranking, list_scores in zip(rankings, scores, strict=True):
        for hit, score in zip(ranking, list_scores, strict=True):
            key = hit.chunk.id
            total[key] = total.get(key, 0.0) + score
            first.setdefault(key, hit)
            if hit.cosine is not None:
                cosine.setdefault(key, hit.cosine)
    order = sorted(total, key=lambda c: -total[c])  # sorted() is stable: first-seen wins ties
    return [Hit(chunk=first[c].chunk, score=total[c], cosine=cosine.get(c)) for c in order]
