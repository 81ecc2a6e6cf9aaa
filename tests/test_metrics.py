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


def test_intervals_resample_whole_groups() -> None:
    # One dialogue whose two targets are both hits, one whose target is a miss. A bootstrap
    # over dialogues can only draw 0, 1 or 2 copies of the first: R@10 takes the values
    # 0, 2/3, 1 (never 1/2, which resampling targets one at a time would give).
    m = RankingMetrics()
    m.add_ranks([1, 3], group="hit")
    m.add_ranks([80], group="miss")
    lo, hi = m.intervals(("recall@10",), n_boot=400, seed=1)["recall@10"]
    assert lo == 0.0 and hi == 1.0
    seen = {round(v, 6) for v in _boot_values(m, 400)}
    assert seen <= {0.0, round(2 / 3, 6), 1.0}


def _boot_values(m: RankingMetrics, n_boot: int) -> list[float]:
    """Single bootstrap draws of recall@10 (an interval of one draw is that draw), one per seed."""
    return [m.intervals(("recall@10",), n_boot=1, seed=s)["recall@10"][0] for s in range(n_boot)]


def test_intervals_hold_the_estimate_and_narrow_with_data() -> None:
    rng = np.random.default_rng(0)

    def metrics(n: int) -> RankingMetrics:
        m = RankingMetrics()
        for i in range(n):  # each sample its own group: hit with probability 0.3
            m.add_ranks([1 if rng.random() < 0.3 else 100])
        return m

    small, large = metrics(100), metrics(2000)
    for m in (small, large):
        lo, hi = m.intervals()["recall@10"]
        assert lo <= m.result()["recall@10"] <= hi
    width = {k: m.intervals()["recall@10"][1] - m.intervals()["recall@10"][0] for k, m in (("s", small), ("l", large))}
    assert width["l"] < width["s"] / 3  # sqrt(20) ≈ 4.5 times narrower in theory
    assert RankingMetrics().intervals() == {"recall@10": (0.0, 0.0), "recall@50": (0.0, 0.0)}
    with pytest.raises(ValueError, match="unknown metric"):
        small.intervals(("recall@ten",))
