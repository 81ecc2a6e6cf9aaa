"""benchmarks/redial: the dev split, the coordinate-ascent search and its configs."""

from __future__ import annotations

import importlib

from retrieval.dialogue import DEV_SHARE, is_dev, split_dialogues

bench = importlib.import_module("benchmarks.redial.__main__")


def test_coordinate_search_finds_a_separable_optimum():
    from fusion.tune import coordinate_search

    grid = {"a": (0, 1, 2, 3), "b": (0.0, 0.5, 1.0), "c": ("x", "y")}
    target = {"a": 2, "b": 0.5, "c": "y"}
    calls = []

    def score(point):
        calls.append(point)
        return -abs(point["a"] - 2) - abs(point["b"] - 0.5) + (point["c"] == "y")

    point, value, trace = coordinate_search(grid, {"a": 0, "b": 0.0, "c": "x"}, score)
    assert point == target and value == 1.0 and len(trace) == len(calls)
    # one round to move, one to confirm nothing moves: at most 2 * (3 + 2 + 1) + 1 calls
    assert len(calls) <= 13


def test_as_config_puts_term_weights_apart():
    cfg = bench.as_config({"alpha": 0.4, "w:popularity": 0.3, "entity_weight": 0.3, "w:head": 1.0})
    assert cfg.alpha == 0.4 and cfg.entity_weight == 0.3 and dict(cfg.weights) == {"popularity": 0.3, "head": 1.0}
    # every mention weighs the same, the whole catalog is ranked, the conversation is the query
    assert (cfg.query, cfg.n_candidates, cfg.like_weight, cfg.mention_weight) == ("context", None, 1.0, 1.0)


def test_dev_split_is_stable_and_about_its_share():
    from retrieval.dialogue import Dialogue

    ids = [str(i) for i in range(2000)]
    share = sum(is_dev(i) for i in ids) / len(ids)
    assert abs(share - DEV_SHARE / 100) < 0.03
    assert [is_dev(i) for i in ids[:50]] == [is_dev(i) for i in ids[:50]]
    fit, dev = split_dialogues([Dialogue(i, ()) for i in ids[:100]])
    assert len(fit) + len(dev) == 100 and not {d.dialogue_id for d in fit} & {d.dialogue_id for d in dev}


def test_report_states_each_goal_against_the_served_row_and_its_interval():
    from benchmarks.redial.report import goals

    def proto(r10, r50, i10, i50):
        return {"recall@10": r10, "recall@50": r50}, {"recall@10": i10, "recall@50": i50}

    std, std_i = proto(0.295, 0.512, (0.26, 0.33), (0.47, 0.55))
    new, new_i = proto(0.229, 0.456, (0.20, 0.26), (0.462, 0.50))
    report = {"served_row": "served", "goals": {"standard": (0.28, 0.50), "new_items": (0.23, 0.46)},
              "rows": {"other": {}, "served": {"standard": std, "new_items": new,
                                               "intervals": {"standard": std_i, "new_items": new_i}}}}
    table = [line for line in goals(report) if line.startswith("| standard") or line.startswith("| new_items")]
    assert table == [
        "| standard | recall@10 | 0.28 | 0.295 | 0.260 – 0.330 | yes |",
        "| standard | recall@50 | 0.50 | 0.512 | 0.470 – 0.550 | yes |",
        "| new_items | recall@10 | 0.23 | 0.229 | 0.200 – 0.260 | no (the goal lies inside the interval) |",
        "| new_items | recall@50 | 0.46 | 0.456 | 0.462 – 0.500 | no |",
    ]
    assert goals({"rows": {}}) == []  # a report written before goals were recorded


def test_report_names_the_layers_the_recipe_trained():
    from benchmarks.redial.report import layers

    assert layers("top:3") == "Top 3 layers" and layers("top:2") == "Top 2 layers" and layers("all") == "All layers"


def test_report_says_what_the_served_system_was_fitted_on():
    from benchmarks.redial.report import refit_words

    assert refit_words({"refit": None}) == refit_words({}) == ""
    words = refit_words({"refit": {"n_dialogues": 1513, "encoder": "encoder-top3-all"}})
    assert "all 1,513 dialogues of train.jsonl" in words and "before valid.jsonl was scored" in words
