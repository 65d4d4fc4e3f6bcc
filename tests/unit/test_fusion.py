"""Reciprocal rank fusion on hand-computed values."""

import pytest

from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.types import Chunk, Hit


def hits(*ids: str) -> list[Hit]:
    return [Hit(Chunk(id=i, doc_id=i, text=i, position=0), score=0.0) for i in ids]


def test_rrf_known_values() -> None:
    # a: 1/(60+1) + 1/(60+2) = 0.016393 + 0.016129 = 0.032522
    # b: 1/(60+2) + 1/(60+1) = the same, but a was seen first
    # c: 1/(60+3)            = 0.015873
    # d: 1/(60+3)            = 0.015873, after c
    fused = reciprocal_rank_fusion([hits("a", "b", "c"), hits("b", "a", "d")], k=60)
    assert [h.chunk.id for h in fused] == ["a", "b", "c", "d"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2].score == pytest.approx(1 / 63)


def test_rrf_agreement_beats_a_single_top_rank() -> None:
    # x is first in one list only: 1/61 = 0.01639; y is second in both: 2/62 = 0.03226
    fused = reciprocal_rank_fusion([hits("x", "y"), hits("z", "y")], k=60)
    assert fused[0].chunk.id == "y"
    assert fused[0].score == pytest.approx(2 / 62)


def test_rrf_small_k_sharpens_top_ranks() -> None:
    # k=1: p is second in both lists, 1/3 + 1/3 = 0.6667; q and r are first in one, 1/2 each
    fused = reciprocal_rank_fusion([hits("q", "p"), hits("r", "p")], k=1)
    assert [h.chunk.id for h in fused] == ["p", "q", "r"]
    assert fused[0].score == pytest.approx(2 / 3)
    assert fused[1].score == pytest.approx(1 / 2)


def test_rrf_empty_and_invalid() -> None:
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError, match="k must be >= 1"):
        reciprocal_rank_fusion([hits("a")], k=0)


def test_rrf_keeps_the_dense_cosine_of_any_ranking() -> None:
    def hit(i: str, cosine: float | None) -> Hit:
        return Hit(Chunk(id=i, doc_id=i, text=i, position=0), score=0.0, cosine=cosine)

    bm25 = [hit("a", None), hit("b", None)]
    dense = [hit("b", 0.8), hit("c", 0.5)]
    fused = {h.chunk.id: h.cosine for h in reciprocal_rank_fusion([bm25, dense])}
    assert fused == {"a": None, "b": 0.8, "c": 0.5}
