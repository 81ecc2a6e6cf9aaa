"""The user simulator (benchmarks/simulator.py) on the tiny catalog: it reacts exactly as its ratings say."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from benchmarks.simulator import SimConfig, SimUser, Simulator, make_users, opening
from bot.offline.learn import read_logbook
from bot.service.logbook import Logbook
from fusion.learn import log_interactions, refit
from fusion.logged import append
from tests.conftest import make_catalog, make_checkerboard
from tests.helpers import tiny_bot

# rated 5 (like), 1 (dislike), 3 (neither) and 4 (like); everything else unknown
RATINGS = {0: 5.0, 1: 1.0, 6: 3.0, 7: 4.0}


def user(targets=()) -> SimUser:
    return SimUser("42", RATINGS, np.array(targets, np.int64), ("Comedy", "Animation"), (), "sim42")


def test_reactions_follow_the_ratings() -> None:
    u = user()
    assert [u.reaction(r) for r in (0, 1, 6, 7, 3)] == ["like", "dislike", None, "like", None]


def test_a_session_likes_and_dislikes_exactly_what_the_ratings_say(tmp_path: Path) -> None:
    bot = tiny_bot(k=12)  # one list shows the whole catalog: every rated item is seen at once
    with Logbook(tmp_path / "log.sqlite") as book:
        sim = Simulator(bot, book, SimConfig(turns=1, accept=1.0))
        result = sim.session(user(), "s1", seed=0)
        records = book.sessions()
    assert sorted(result.lists[0]) == list(range(12))
    assert sorted(result.liked) == [0, 7] and list(result.disliked) == [1]
    (rec,) = records
    assert rec["participant_id"] == "sim42"
    assert sorted((f["item_id"], f["kind"]) for f in rec["feedback"]) == [
        ("m0", "like"), ("m1", "dislike"), ("m7", "like")]
    assert [e["kind"] for e in rec["events"]] == ["assigned", "consent"]
    assert len(rec["turns"]) == 1 and len(rec["turns"][0]["items"]) == 12


def test_acceptance_zero_reacts_to_nothing(tmp_path: Path) -> None:
    with Logbook(tmp_path / "log.sqlite") as book:
        result = Simulator(tiny_bot(k=12), book, SimConfig(turns=2, accept=0.0)).session(user(), "s1", 0)
        assert not result.liked and not result.disliked and book.sessions()[0]["feedback"] == []


def test_targets_are_kept_back_and_never_reacted_to() -> None:
    catalog = make_catalog()
    inter = make_checkerboard(catalog)  # u0 rates rows 0-5: 5 stars where (row + 0) is even, else 3
    (u,) = make_users(catalog, inter, ["u0"], SimConfig(target_share=0.5, seed=1))
    liked = {0, 2, 4}
    assert set(u.targets.tolist()) < liked and len(u.targets) == 2
    assert all(u.reaction(int(r)) is None for r in u.targets)
    assert {r for r in u.ratings if u.reaction(r) == "like"} == liked - set(u.targets.tolist())
    text = opening(u, catalog, random.Random(0), SimConfig(n_genres=2))
    assert sum(g.lower() in text for g in ("Animation", "Children", "Comedy")) == 2


def test_learning_from_simulated_sessions_makes_the_participant_known(tmp_path: Path) -> None:
    bot = tiny_bot(k=12)
    path = tmp_path / "log.sqlite"
    with Logbook(path) as book:
        Simulator(bot, book, SimConfig(turns=1, accept=1.0)).session(user(), "s1", 0)
    sessions, skipped = read_logbook(path)
    assert [s.taste_key() for s in sessions] == ["participant:sim42"] and not skipped
    catalog = bot.catalog
    learned = log_interactions(sessions, catalog)
    new = refit(bot.recommender, append(make_checkerboard(catalog), learned))
    assert new.cf.knows_user("participant:sim42") and not bot.recommender.cf.knows_user("participant:sim42")
    # its taste (ratings above its own mean) is its likes, not its dislike
    history = new.cf.user_history("participant:sim42")
    assert sorted(history.item_rows.tolist()) == [0, 7]
