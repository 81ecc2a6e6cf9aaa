"""The second stage's parts: candidate selection, the listwise reranker, and the two item
signals it reads (nearest training contexts, item metadata similarity). The stage inside
the pipeline is tested in tests/test_redial.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.itemsim import FactSimilarity, TitleWords
from fusion.neighbours import ContextNeighbours
from fusion.rerank import FeatureRows, RerankConfig, Reranker
from fusion.second_stage import select
from retrieval.artifacts import StaleArtifactError


def test_pool_rows_known_answer() -> None:
    first = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    extra = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.0])
    # top 2 of first without the banned row 0 -> 1, 2; top 1 of extra -> 5; row 0 always
    assert select(first, [extra], banned=[0], always=[0], n_first=2, n_extra=1).tolist() == [0, 1, 2, 5]
    # a banned row stays out unless it is always in; n larger than the catalog is fine
    assert select(first, [], banned=[0, 1], always=[], n_first=10, n_extra=1).tolist() == [2, 3, 4, 5]


def synthetic_pools(n: int, seed: int) -> tuple[list[FeatureRows], list[list[int]]]:
    """Pools of 20 candidates; the target is the one with the largest feature 1 (feature
    0 is noise, feature 2 a decoy that favours the first row)."""
    rng = np.random.default_rng(seed)
    pools, targets = [], []
    for _ in range(n):
        rows = rng.choice(1000, 20, replace=False)
        x = rng.normal(size=(20, 3)).astype(np.float32)
        x[:, 2] = np.arange(20, 0, -1)
        pools.append(FeatureRows(rows, x))
        targets.append([int(rows[np.argmax(x[:, 1])])])
    return pools, targets


def test_reranker_learns_which_feature_marks_the_target() -> None:
    pools, targets = synthetic_pools(300, seed=0)
    reranker, report = Reranker.fit(("noise", "signal", "decoy"), pools, targets,
                                    RerankConfig(epochs=30, seeds=(0,)), progress=False)
    assert report["n_pools"] == 300 and report["n_skipped"] == 0
    held, held_targets = synthetic_pools(100, seed=1)
    hits = [p.rows[np.argmax(reranker.scores(p))] == t[0] for p, t in zip(held, held_targets)]
    assert np.mean(hits) > 0.9  # the decoy alone would put the first row on top (5% right)


def test_reranker_skips_pools_without_targets_and_refuses_none() -> None:
    pools, targets = synthetic_pools(4, seed=2)
    with pytest.raises(ValueError, match="no pool holds"):
        Reranker.fit(("a", "b", "c"), pools, [[-1]] * 4, RerankConfig(epochs=1, seeds=(0,)), progress=False)
    _, report = Reranker.fit(("a", "b", "c"), pools, [targets[0], [-1], [-1], [-1]],
                             RerankConfig(epochs=1, seeds=(0,)), progress=False)
    assert report["n_pools"] == 1 and report["n_skipped"] == 3


def test_reranker_save_load_round_trip(tmp_path) -> None:
    pools, targets = synthetic_pools(20, seed=3)
    reranker, _ = Reranker.fit(("a", "b", "c"), pools, targets, RerankConfig(epochs=2, seeds=(0, 1)),
                               progress=False)
    reranker.save(tmp_path / "r", {"data": "x"}, {"note": 1})
    back = Reranker.load(tmp_path / "r", {"data": "x"})
    assert back.feature_names == ("a", "b", "c") and len(back.layers) == 2
    np.testing.assert_allclose(back.scores(pools[0]), reranker.scores(pools[0]), rtol=1e-6)
    with pytest.raises(ValueError, match="reads 3 features"):
        back.scores(FeatureRows(pools[0].rows, pools[0].features[:, :2]))
    with pytest.raises(StaleArtifactError):
        Reranker.load(tmp_path / "r", {"data": "other"})


def test_context_neighbours_known_answer(tmp_path) -> None:
    e1, e2 = np.eye(2, dtype=np.float32)
    mixed = (e1 + e2) / math.sqrt(2)
    nn = ContextNeighbours.fit(np.stack([e1, e2, mixed]), [[0], [1], [2, 2]], n_items=3)
    np.testing.assert_allclose(nn.scores(e1[None], k=2)[0], [1.0, 0.0, 1 / math.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(nn.scores(e1[None], k=1)[0], [1.0, 0.0, 0.0])
    assert not nn.scores(-e1[None], k=3).any()  # dissimilar contexts do not vote
    nn.save(tmp_path / "nn", {"train": "t"}, {})
    back = ContextNeighbours.load(tmp_path / "nn", {"train": "t"})
    np.testing.assert_allclose(back.scores(mixed[None], k=3), nn.scores(mixed[None], k=3))


def test_title_words_overlap_is_idf_weighted() -> None:
    tw = TitleWords(["Shrek", "Shrek Forever After", "The Wolf", "Wolf Creek"])
    idf = {"shrek": math.log(2), "forever": math.log(4), "after": math.log(4)}
    expected = idf["shrek"] / sum(idf.values())
    np.testing.assert_allclose(tw.max_overlap([1, 2], [0]), [expected, 0.0], rtol=1e-6)
    assert tw.max_overlap([0], [1]).tolist() == [1.0]  # all of "Shrek" is in the sequel's title
    assert tw.max_overlap([1], []).tolist() == [0.0]


def test_fact_similarity_links_shared_people_only() -> None:
    fs = FactSimilarity([["director=A"], ["director=A", "starring=B"], [], ["starring=C"]])
    sims = fs.max_similarity([1, 2, 3], [0])
    assert sims[0] > 0.3 and sims[1] == 0.0 and sims[2] == 0.0
    assert fs.max_similarity([1], []).tolist() == [0.0]
