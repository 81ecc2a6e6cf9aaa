"""Metric code against hand-computed ranks (fusion/metrics.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.metrics import RankingMetrics, new_item_split, target_rank

SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5])  # row r has rank r + 1


def test_target_rank_and_pessimistic_ties() -> None:
    assert [target_rank(SCORES, r) for r in range(5)] == [1, 2, 3, 4, 5]
    tied = np.array([0.5, 0.5, 0.1])
    assert target_rank(tied, 0) == 2 and target_rank(tied, 1) == 2  # ties rank behind


def test_hand_computed_with_repeated_targets() -> None:
    m = RankingMetrics()
    m.add(SCORES, [1, 3])  # ranks 2 and 4
    m.add(SCORES, [1])  # the same movie a target again in a later turn: counts again, rank 2
    m.add(SCORES, [])  # no target: not a sample
    r = m.result()
    assert r["n_samples"] == 2 and r["n_targets"] == 3
    assert r["recall@1"] == 0.0
    assert r["recall@10"] == 1.0 and r["recall@50"] == 1.0
    assert r["mrr@10"] == pytest.approx((1 / 2 + 1 / 4 + 1 / 2) / 3)
    assert r["ndcg@10"] == pytest.approx((2 / math.log2(3) + 1 / math.log2(5)) / 3)


def test_cutoff_beyond_k() -> None:
    scores = -np.arange(60, dtype=float)  # row r has rank r + 1
    m = RankingMetrics()
    m.add(scores, [0, 9, 10, 49, 50])  # ranks 1, 10, 11, 50, 51
    r = m.result()
    assert r["recall@1"] == pytest.approx(1 / 5)
    assert r["recall@10"] == pytest.approx(2 / 5)
    assert r["recall@50"] == pytest.approx(4 / 5)
    assert r["mrr@10"] == pytest.approx((1 + 1 / 10) / 5)
    assert m.recall_curve([1, 10, 50, 51]) == pytest.approx([0.2, 0.4, 0.8, 1.0])


def test_new_items_rule() -> None:
    # Targets rows 0 and 2; row 0 was mentioned earlier: it is dropped as a target and
    # banned as a prediction, so row 2 moves up from rank 3 to rank 2.
    kept, banned = new_item_split([0, 2], [0, 4])
    assert kept == [2] and banned == [0, 4]
    m = RankingMetrics()
    m.add(SCORES, kept, banned)
    assert m.ranks == [2]
    assert SCORES[0] == 0.9  # the caller's scores are not modified
    # Every target mentioned earlier: the sample is dropped.
    kept, banned = new_item_split([1], [1])
    m.add(SCORES, kept, banned)
    assert m.result()["n_samples"] == 1


def test_empty_result() -> None:
    r = RankingMetrics().result()
    assert r["n_targets"] == 0 and r["recall@10"] == 0.0
