"""Ranking metrics as BEIR reports them (pytrec_eval semantics), as pure functions.

`ranked` is a system's document ids, best first; `qrels` maps judged ids to graded relevance.
A document repeated in `ranked` counts once, at its first rank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _top_k(ranked: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids of `ranked`."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return list(dict.fromkeys(ranked))[:k]


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with gain = grade and discount 1/log2(rank + 1); 0.0 if nothing is relevant."""
    dcg = sum(max(qrels.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(_top_k(ranked, k)))
    # The ideal ranking puts every judged relevant document first, best grade first.
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (grade > 0) found in the top k; 0.0 if none exist."""
    top = _top_k(ranked, k)
    relevant = {d for d, g in qrels.items() if g > 0}
    return len(relevant.intersection(top)) / len(relevant) if relevant else 0.0


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document in the top k; 0.0 if none is there."""
    for i, d in enumerate(_top_k(ranked, k)):
        if qrels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; an empty sequence is an error, not a silent zero."""
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)
