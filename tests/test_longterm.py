"""Exposure metrics with known answers and two long-term rounds on the tiny catalog
(benchmarks/longterm.py): learning reads the previous round's logbook, state resumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.longterm import RoundStats, paired, round_figures, run_round, verdicts
from benchmarks.simulator import SimConfig, SimUser
from fusion.diversity import exposure, gini, popular_share, top_share_rows
from tests.conftest import make_checkerboard
from tests.helpers import tiny_bot


def test_gini_and_popular_share_known_answers() -> None:
    assert gini(np.array([5, 5, 5, 5])) == 0.0
    assert abs(gini(np.array([0, 0, 0, 12])) - 0.75) < 1e-9  # (n-1)/n for one item taking everything
    assert gini(np.zeros(3)) == 0.0
    lists = [np.array([0, 1]), np.array([1, 2])]
    assert exposure(lists, 4).tolist() == [1, 2, 1, 0]
    assert popular_share(lists, np.array([1])) == 0.5
    assert top_share_rows(np.array([3, 9, 1, 7]), 0.5).tolist() == [1, 3]


def users() -> list[SimUser]:
    # two kids-film fans who like rows 0-2 and keep row 3 back as the target
    return [SimUser(u, {0: 5.0, 1: 5.0, 2: 4.0, 8: 1.0}, np.array([3], np.int64), ("Animation", "Children"),
                    (), f"sim{u}") for u in ("a", "b")]


def test_two_rounds_learn_from_the_first_and_write_state(tmp_path: Path) -> None:
    bot = tiny_bot(k=4)
    rec = bot.recommender
    base = make_checkerboard(bot.catalog)
    sim = SimConfig(turns=2, accept=1.0)
    r1 = run_round("x/learn", rec.config, True, 1, bot, base, users(), sim, tmp_path)
    assert r1["learned_interactions"] == 0 and r1["likes"] > 0
    assert (tmp_path / "x__learn" / "round_01.json").exists() and (tmp_path / "x__learn" / "round_01.sqlite").exists()
    r2 = run_round("x/learn", rec.config, True, 2, bot, base, users(), sim, tmp_path)
    assert r2["logbook"] is not None and r2["logbook"]["weight"] == 0.0  # nothing before round 1 to hold it against
    # round 2 refits on everything round 1 logged: each user's likes and dislikes, as participants
    assert r2["learned_interactions"] == r1["likes"] + r1["dislikes"]
    r3 = run_round("x/learn", rec.config, True, 3, bot, base, users(), sim, tmp_path)
    # round 3 holds round 2's later likes against round 1's co-occurrence to weigh the term
    assert r3["logbook"]["cases"] > 0 and r3["logbook"]["weight"] in (0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
    no_term = run_round("x/learn", rec.config, True, 4, bot, base, users(), sim, tmp_path, logbook_term=False)
    assert no_term["logbook"] is None and no_term["learned_interactions"] > 0  # CF refit alone
    static = run_round("x/static", rec.config, False, 2, bot, base, users(), sim, tmp_path)
    assert static["learned_interactions"] == 0
    saved = json.loads((tmp_path / "x__learn" / "round_02.json").read_text())
    assert saved["recall"] == r2["recall"] and len(saved["lists"]) == 2
    stats = RoundStats(saved, len(bot.catalog), np.bincount(base.item_rows, minlength=12), 8, np.array([0]))
    fig = round_figures(stats, np.random.default_rng(0))
    for m, c in fig.items():
        assert c["lo"] <= c["mean"] + 1e-9 and c["mean"] <= c["hi"] + 1e-9, m
    assert 0 < fig["coverage"]["mean"] <= 1
    same = paired(stats, stats, np.random.default_rng(0))
    assert all(d["mean"] == 0 and d["lo"] == 0 and d["hi"] == 0 for d in same.values())


def test_verdicts_follow_the_intervals() -> None:
    def d(lo, hi):
        return {"mean": (lo + hi) / 2, "lo": lo, "hi": hi}
    up, flat = d(.01, .05), d(-.01, .01)
    same = {m: flat for m in ("ndcg@10", "top1%_share", "gini", "coverage", "novelty")}
    report = {"arms": ["keeps", "popular", "adaptive+mmr/static"],
              "paired": {"keeps: last round − round 1": {"ndcg@10": up},
                         "popular: last round − round 1": {"ndcg@10": up},
                         "adaptive+mmr/static: last round − round 1": {**same, "gini": up},
                         "keeps − adaptive+mmr/static (last round)": same,
                         "popular − adaptive+mmr/static (last round)": {**same, "top1%_share": up}}}
    text = "\n".join(verdicts(report))
    assert "`keeps`: accuracy rises" in text and "`popular`: accuracy rises" in text
    assert "`adaptive+mmr/static`: accuracy shows no clear change" in text
    assert "top-1% share 0.030 [0.010, 0.050] (up)" in text and "comes from the traffic" in text
    assert text.endswith("more than the never-learning arm's: `keeps`.")


def test_the_logbook_terms_share_is_read_from_its_own_pair() -> None:
    from benchmarks.longterm import CF_ONLY, LEARN, arms
    from fusion.config import PipelineConfig

    def d(lo, hi):
        return {"mean": (lo + hi) / 2, "lo": lo, "hi": hi}
    flat, down = d(-.01, .01), d(-.05, -.01)
    same = {m: flat for m in ("ndcg@10", "top1%_share", "gini", "coverage", "novelty")}
    last = {m: d(0.0, 0.2) for m in ("ndcg@10", "top1%_share", "novelty")}
    report = {"arms": [LEARN, CF_ONLY], "rounds": {LEARN: [last], CF_ONLY: [last]},
              "paired": {f"{LEARN} − {CF_ONLY} (last round)": {**same, "ndcg@10": down}}}
    text = "\n".join(verdicts(report))
    assert f"The logbook term's share (`{LEARN}` against `{CF_ONLY}`" in text
    assert "paired difference -0.030 [-0.050, -0.010] (down)" in text
    # the CF-only arm exists only when the learning arms serve the term
    assert arms(PipelineConfig())[CF_ONLY][1:] == (True, False) and arms(PipelineConfig())[LEARN][1:] == (True, True)
    assert CF_ONLY not in arms(PipelineConfig(), logbook_term=False)
