"""Reciprocal rank fusion on hand-computed values."""

import pytest

from rag.retrieval.fusion import (
    Fusion,
    FusionKind,
    fuse,
    min_max,
    reciprocal_rank_fusion,
    theoretical_min_max,
)
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


def scored(*pairs: tuple[str, float], dense: bool = False) -> list[Hit]:
    return [
        Hit(Chunk(id=i, doc_id=i, text=i, position=0), score=s, cosine=s if dense else None)
        for i, s in pairs
    ]


def test_weighted_rrf_known_values() -> None:
    # dense weight 0.8, bm25 0.2, k=60; fuse() doubles the weights so 0.5 is classic RRF.
    # a: dense rank 1 -> 1.6/61 = 0.026230;  b: bm25 rank 1 -> 0.4/61 = 0.006557
    # c: dense rank 2 + bm25 rank 2 -> 1.6/62 + 0.4/62 = 0.032258
    dense, bm25 = hits("a", "c"), hits("b", "c")
    fused = fuse(dense, bm25, Fusion("rrf", 0.8))
    assert [h.chunk.id for h in fused] == ["c", "a", "b"]
    assert [h.score for h in fused] == pytest.approx([2 / 62, 1.6 / 61, 0.4 / 61])


def test_equal_weight_rrf_is_classic_rrf() -> None:
    dense, bm25 = hits("a", "b", "c"), hits("b", "a", "d")
    classic = reciprocal_rank_fusion([dense, bm25], k=60)
    fused = fuse(dense, bm25, Fusion("rrf", 0.5), rrf_k=60)
    assert [(h.chunk.id, h.score) for h in fused] == [(h.chunk.id, h.score) for h in classic]


def test_min_max_and_theoretical_min_max_known_values() -> None:
    assert min_max([3.0, 2.0, 1.0]) == pytest.approx([1.0, 0.5, 0.0])
    assert min_max([0.7, 0.7]) == [1.0, 1.0]
    assert min_max([]) == []
    # cosine floor -1, max 0.6: (0.6+1)/1.6 = 1, (0.2+1)/1.6 = 0.75, (-0.2+1)/1.6 = 0.5
    assert theoretical_min_max([0.6, 0.2, -0.2], -1.0) == pytest.approx([1.0, 0.75, 0.5])
    # BM25 floor 0: 8/8, 6/8
    assert theoretical_min_max([8.0, 6.0], 0.0) == pytest.approx([1.0, 0.75])


def test_convex_min_max_known_values() -> None:
    # dense cosines a .9, b .5, c .1 -> 1, .5, 0;  bm25 b 10, d 4 -> 1, 0
    # weight .7: a .7, b .7*.5 + .3*1 = .65, c 0, d 0 (c was seen first)
    dense = scored(("a", 0.9), ("b", 0.5), ("c", 0.1), dense=True)
    bm25 = scored(("b", 10.0), ("d", 4.0))
    fused = fuse(dense, bm25, Fusion("minmax", 0.7))
    assert [h.chunk.id for h in fused] == ["a", "b", "c", "d"]
    assert [h.score for h in fused] == pytest.approx([0.7, 0.65, 0.0, 0.0])
    assert fused[1].cosine == 0.5


def test_convex_tmm_keeps_close_scores_close() -> None:
    # dense a .6, b .2 -> 1, .75 (floor -1);  bm25 b 8, a 2 -> 1, .25 (floor 0)
    # weight .5: a (1 + .25)/2 = .625, b (.75 + 1)/2 = .875; min-max would tie them at .5
    dense = scored(("a", 0.6), ("b", 0.2), dense=True)
    bm25 = scored(("b", 8.0), ("a", 2.0))
    fused = fuse(dense, bm25, Fusion("tmm", 0.5))
    assert [h.chunk.id for h in fused] == ["b", "a"]
    assert [h.score for h in fused] == pytest.approx([0.875, 0.625])
    tied = fuse(dense, bm25, Fusion("minmax", 0.5))
    assert [h.score for h in tied] == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize("kind", ["rrf", "minmax", "tmm"])
def test_weight_one_or_zero_follows_one_ranking(kind: FusionKind) -> None:
    dense = scored(("a", 0.9), ("b", 0.5), ("c", 0.1), dense=True)
    bm25 = scored(("c", 9.0), ("b", 5.0), ("d", 1.0))
    only_dense = [h.chunk.id for h in fuse(dense, bm25, Fusion(kind, 1.0))]
    only_bm25 = [h.chunk.id for h in fuse(dense, bm25, Fusion(kind, 0.0))]
    # [:2]: min-max maps a list's last score to 0, the score of a chunk the list lacks.
    assert only_dense[:2] == ["a", "b"]
    assert only_bm25[:2] == ["c", "b"]


def test_fusion_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Fusion("minmax", 1.5)
    with pytest.raises(ValueError, match="unknown fusion 'sum'"):
        Fusion("sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([hits("a")], weights=[1.0, 1.0])
