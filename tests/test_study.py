"""Study config validation and the seeded, balanced, stable arm assignment."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from bot.service.logbook import Logbook
from bot.service.study import (Arm, StudyConfig, StudyConfigError, assign_arm, assign_recorded,
                       clean_participant_id, load_study_config, parse_study_config)

THREE = StudyConfig(arms=(Arm("text", 0.9), Arm("balanced", 0.5), Arm("cf", 0.2, "mmr")), seed=7)


def assign_in_order(participants: list[str], config: StudyConfig) -> dict[str, str]:
    counts: Counter[str] = Counter()
    arms = {}
    for p in participants:
        arm = assign_arm(p, config, counts).name
        counts[arm] += 1
        arms[p] = arm
    return arms


def test_ten_participants_over_three_arms_are_4_3_3():
    arms = assign_in_order([f"p{i}" for i in range(10)], THREE)
    assert sorted(Counter(arms.values()).values()) == [3, 3, 4]


@pytest.mark.parametrize("n_arms", [1, 2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 99])
def test_counts_never_differ_by_more_than_one(n_arms, seed):
    config = StudyConfig(arms=tuple(Arm(f"a{i}") for i in range(n_arms)), seed=seed)
    counts: Counter[str] = Counter()
    for i in range(40):
        counts[assign_arm(f"participant-{i}", config, counts).name] += 1
        filled = [counts[a.name] for a in config.arms]
        assert max(filled) - min(filled) <= 1


def test_assignment_is_deterministic_and_seeded():
    people = [f"p{i}" for i in range(10)]
    assert assign_in_order(people, THREE) == assign_in_order(people, THREE)
    # same participant, same counts -> same arm, whatever else happened
    assert assign_arm("alice", THREE, {"text": 2, "balanced": 2, "cf": 2}) == \
        assign_arm("alice", THREE, {"text": 2, "balanced": 2, "cf": 2})
    # ties are broken by the seeded hash, not by config order: over seeds, the first
    # participant does not always land in the first arm
    firsts = {assign_arm("p0", StudyConfig(THREE.arms, seed=s), {}).name for s in range(20)}
    assert len(firsts) > 1


def test_least_filled_arm_wins_over_the_tie_break():
    assert assign_arm("anyone", THREE, {"text": 3, "balanced": 2, "cf": 3}).name == "balanced"
    assert assign_arm("anyone", THREE, {"text": 1, "balanced": 1, "unknown-arm": 0}).name == "cf"


def test_returning_participant_keeps_the_recorded_arm():
    assert assign_arm("p1", THREE, {"text": 0, "balanced": 9, "cf": 9}, previous="cf").name == "cf"
    with pytest.raises(StudyConfigError, match="no longer has"):
        assign_arm("p1", THREE, {}, previous="gone")


def test_assign_recorded_is_stable_across_sessions_and_reopen(tmp_path):
    db = tmp_path / "study.db"
    with Logbook(db) as book:
        first = {p: assign_recorded(book, f"s-{p}", p, THREE).name for p in ("a", "b", "c", "d")}
        assert assign_recorded(book, "s-a-again", "a", THREE).name == first["a"]
    with Logbook(db) as book:  # a restart of the app
        assert assign_recorded(book, "s-a-third", "a", THREE).name == first["a"]
        counts = Counter(first.values())
        assert sorted(counts.values()) == [1, 1, 2]  # returning visits do not count twice
        sessions = {s["session_id"]: s for s in book.sessions()}
        assert sessions["s-a-third"]["arm"] == first["a"]
        assert sessions["s-a-third"]["events"][0]["detail"] == {"arm": first["a"], "participant_id": "a",
                                                                "returning": True}


def test_concurrent_assignments_stay_balanced(tmp_path):
    with Logbook(tmp_path / "study.db") as book:
        results: dict[str, str] = {}

        def enter(i: int) -> None:
            results[f"p{i}"] = assign_recorded(book, f"s{i}", f"p{i}", THREE).name
        threads = [threading.Thread(target=enter, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(Counter(results.values()).values()) == [10, 10, 10]


def test_load_study_config(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps({"arms": [{"name": "text", "alpha": 0.9},
                                         {"name": "cf", "alpha": 0.2, "strategy": "mmr"}],
                                "seed": 3, "consent_text": "I agree.", "ask_rating": False}))
    config = load_study_config(path)
    assert config == StudyConfig((Arm("text", 0.9, None), Arm("cf", 0.2, "mmr")), 3, "I agree.", False)
    assert load_study_config(str(path)).arm("cf").strategy == "mmr"
    path.write_text('{"arms": [{"name": "only"}]}')
    assert load_study_config(path) == StudyConfig((Arm("only"),), seed=0, consent_text=None, ask_rating=True)


@pytest.mark.parametrize("data, message", [
    ([1, 2], "expected a JSON object"),
    ({}, 'missing "arms"'),
    ({"arms": []}, "non-empty list"),
    ({"arms": {"name": "a"}}, '"arms" must be a list'),
    ({"arms": ["a"]}, r"arms\[0\] must be an object"),
    ({"arms": [{"alpha": 0.5}]}, r'arms\[0\]: missing "name"'),
    ({"arms": [{"name": ""}]}, r"arms\[0\]: arm name must be a non-empty string"),
    ({"arms": [{"name": "a"}, {"name": "b", "alpha": 1.5}]}, r"arms\[1\]: arm 'b': alpha must be a number in \[0, 1\]"),
    ({"arms": [{"name": "a", "alpha": "0.5"}]}, "alpha must be a number"),
    ({"arms": [{"name": "a", "strategy": 3}]}, "strategy must be a non-empty string"),
    ({"arms": [{"name": "a", "beta": 1}]}, r"arms\[0\]: unknown key\(s\) beta; allowed: alpha, name, strategy"),
    ({"arms": [{"name": "a"}, {"name": "a"}]}, "unique; repeated: a"),
    ({"arms": [{"name": "a"}], "seed": "7"}, "seed must be an integer"),
    ({"arms": [{"name": "a"}], "seed": True}, "seed must be an integer"),
    ({"arms": [{"name": "a"}], "ask_rating": "yes"}, "ask_rating must be true or false"),
    ({"arms": [{"name": "a"}], "consent_text": ""}, "consent_text must be a non-empty string"),
    ({"arms": [{"name": "a"}], "arm": []}, r"unknown key\(s\) arm"),
])
def test_config_errors_say_what_to_fix(data, message):
    with pytest.raises(StudyConfigError, match=message) as e:
        parse_study_config(data, source="cfg.json")
    assert str(e.value).startswith("cfg.json: ")


def test_config_file_errors(tmp_path):
    with pytest.raises(StudyConfigError, match="not found"):
        load_study_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"arms": [\n  {"name": "a",}\n]}')
    with pytest.raises(StudyConfigError, match=r"not valid JSON .* line 2"):
        load_study_config(bad)


def test_participant_ids():
    assert clean_participant_id("  P-017 ") == "P-017"
    for raw in ("", "   ", None):
        with pytest.raises(ValueError, match="participant id"):
            clean_participant_id(raw)
    with pytest.raises(ValueError, match="at most"):
        clean_participant_id("x" * 201)
