"""Ranking metrics on small hand-computed cases (log2(2) = 1, log2(3) = 1.58496, log2(4) = 2)."""

import math

import pytest

from evaluation.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k

RANKED = ["a", "b", "c", "d"]
QRELS = {"b": 2, "d": 1, "e": 1, "z": 0}  # e is relevant but never retrieved; z judged irrelevant


def test_ndcg_graded_gains_with_unretrieved_relevant_in_the_ideal() -> None:
    # DCG@3  = 0/1 + 2/log2(3) + 0/2             = 1.26186
    # IDCG@3 = 2/1 + 1/log2(3) + 1/2  (b, d, e)   = 3.13093
    # nDCG@3 = 1.26186 / 3.13093                = 0.403030
    expected = (2 / math.log2(3)) / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(RANKED, QRELS, 3) == pytest.approx(expected)
    assert ndcg_at_k(RANKED, QRELS, 3) == pytest.approx(0.403030, abs=1e-6)


def test_ndcg_rewards_the_better_grade_first() -> None:
    # DCG  = 1/1 + 2/log2(3) = 2.26186; IDCG = 2/1 + 1/log2(3) = 2.63093; 2.26186 / 2.63093
    assert ndcg_at_k(["x", "y"], {"x": 1, "y": 2}, 2) == pytest.approx(0.859719, abs=1e-6)
    assert ndcg_at_k(["y", "x"], {"x": 1, "y": 2}, 2) == pytest.approx(1.0)


def test_recall_counts_grade_above_zero_over_all_relevant() -> None:
    # relevant = {b, d, e}: top 3 holds b -> 1/3; top 4 holds b, d -> 2/3
    assert recall_at_k(RANKED, QRELS, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, QRELS, 4) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, QRELS, 1) == 0.0


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k() -> None:
    assert mrr_at_k(RANKED, QRELS, 3) == pytest.approx(1 / 2)  # b at rank 2
    assert mrr_at_k(["z", "a", "d"], QRELS, 3) == pytest.approx(1 / 3)  # z is judged 0
    assert mrr_at_k(["z", "a", "d"], QRELS, 2) == 0.0


def test_duplicates_count_once_at_their_first_rank() -> None:
    # Deduplicated ranking [b, c]: DCG = 1/1 = IDCG -> 1.0 (counting b twice would give 1.63)
    assert ndcg_at_k(["b", "b", "c"], {"b": 1}, 2) == pytest.approx(1.0)
    # Top 2 distinct are b and c -> both relevant found (counting b twice would give 0.5)
    assert recall_at_k(["b", "b", "c"], {"b": 1, "c": 1}, 2) == pytest.approx(1.0)
    # c moves up to rank 2 once the repeated b is dropped
    assert mrr_at_k(["a", "a", "c"], {"c": 1}, 2) == pytest.approx(1 / 2)


def test_no_relevant_documents_score_zero() -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        assert metric(["a", "b"], {"a": 0}, 10) == 0.0
        assert metric([], {"a": 1}, 10) == 0.0


def test_k_must_be_positive() -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        with pytest.raises(ValueError, match="k must be"):
            metric(["a"], {"a": 1}, 0)


def test_mean() -> None:
    assert mean([0.5, 1.0, 0.0]) == pytest.approx(0.5)
    assert mean([0.1] * 10) == 0.1  # fsum: no drift from repeated addition
    with pytest.raises(ValueError, match="no values"):
        mean([])
