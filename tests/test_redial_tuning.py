"""benchmarks/redial.py: the coordinate-ascent search and its configs."""

from __future__ import annotations

import benchmarks.redial as bench
from fusion.evaluate import RedialConfig


def test_coordinate_search_finds_a_separable_optimum(monkeypatch):
    grid = {"a": (0, 1, 2, 3), "b": (0.0, 0.5, 1.0), "c": ("x", "y")}
    monkeypatch.setattr(bench, "GRID", grid)
    target = {"a": 2, "b": 0.5, "c": "y"}
    calls = []

    def score(point):
        calls.append(point)
        return -abs(point["a"] - 2) - abs(point["b"] - 0.5) + (point["c"] == "y")

    point, value = bench.coordinate_search({"a": 0, "b": 0.0, "c": "x"}, score)
    assert point == target and value == 1.0
    # one round to move, one to confirm nothing moves: at most 2 * (3 + 2 + 1) + 1 calls
    assert len(calls) <= 13


def test_as_config_unpacks_the_cf_weights():
    point = {"alpha": 0.4, "pop_weight": 0.3, "cf_weights": (1.0, 0.5), "entity_weight": 0.3,
             "head_weight": 1.0, "repeat_weight": 3.0, "ratings_weight": 0.2}
    cfg = bench.as_config(RedialConfig(encoder="encoder-top2", n_turns=3), point)
    assert cfg == RedialConfig(encoder="encoder-top2", n_turns=3, alpha=0.4, pop_weight=0.3, like_weight=1.0,
                               mention_weight=0.5, entity_weight=0.3, head_weight=1.0, repeat_weight=3.0,
                               ratings_weight=0.2)
