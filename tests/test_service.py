"""ChatService with a logbook and a study: what is logged is what happened."""

from __future__ import annotations

import json

import pytest

from bot.conversation.chat import BadInput
from bot.service.logbook import Logbook
from bot.service.chatservice import ChatService
from bot.service.study import Arm, StudyConfig
from tests.helpers import tiny_bot


def test_scripted_study_session_is_fully_exported(tmp_path):
    book = Logbook(tmp_path / "log.sqlite")
    study = StudyConfig(arms=(Arm("text", alpha=1.0), Arm("fused", alpha=0.3)), seed=7,
                        consent_text="ok?", ask_rating=True)
    svc = ChatService(tiny_bot(k=3), book, study)
    with pytest.raises(BadInput):
        svc.start("s0", participant_id="  ")
    s1 = svc.start("s1", participant_id="p1")
    s2 = svc.start("s2", participant_id="p2")
    arms = {svc.participation["s1"].arm, svc.participation["s2"].arm}
    assert arms == {"text", "fused"}  # balanced: two participants, two arms
    t, items = svc.turn(s1, "funny cartoon for kids", alpha=0.5)
    assert all(it.recommendation.alpha == svc.participation["s1"].alpha for it in t.items)
    s1 = svc.feedback(t.session, items[0]["item_id"], "like")
    s1 = svc.feedback(s1, items[1]["item_id"], "dislike")
    svc.rate(s1, 4)
    t, _ = svc.turn(s1, "show me more")
    svc.rate(t.session, 2)
    t2, _ = svc.turn(s2, "dark crime thriller")
    svc.reset(t2.session)
    out = tmp_path / "export.jsonl"
    book.export(out, "jsonl")
    sessions = {s["session_id"]: s for s in map(json.loads, out.read_text().splitlines())}
    assert [t["message"] for t in sessions["s1"]["turns"]] == ["funny cartoon for kids", "show me more"]
    assert len(sessions["s1"]["turns"][0]["items"]) == 3
    assert [(f["item_id"], f["kind"]) for f in sessions["s1"]["feedback"]] == \
        [(items[0]["item_id"], "like"), (items[1]["item_id"], "dislike")]
    assert [r["rating"] for r in sessions["s1"]["ratings"]] == [4, 2]
    assert any(e["kind"] == "reset" for e in sessions["s2"]["events"])
    summary = {r["arm"]: r for r in book.study_summary()}
    arm1 = svc.participation["s1"].arm
    assert summary[arm1]["turns"] == 2 and summary[arm1]["likes"] == 1 and summary[arm1]["ratings"] == 2


def test_rating_needs_a_reply_and_valid_value(tmp_path):
    svc = ChatService(tiny_bot(), Logbook(tmp_path / "l.sqlite"))
    s = svc.start("a")
    with pytest.raises(BadInput, match="no reply to rate"):
        svc.rate(s, 3)
    t, _ = svc.turn(s, "cartoon")
    with pytest.raises(BadInput, match="1 to 5"):
        svc.rate(t.session, 6)


def test_strategy_arms_are_refused_until_supported():
    from bot.service.study import StudyConfigError

    with pytest.raises(StudyConfigError, match="vary alpha"):
        ChatService(tiny_bot(), None, StudyConfig(arms=(Arm("a", strategy="rrf"),)))


def test_participation_is_bounded_and_comes_back_from_the_log(tmp_path, monkeypatch):
    import bot.service.chatservice as service_module

    monkeypatch.setattr(service_module, "PARTICIPATION_CACHE", 2)
    book = Logbook(tmp_path / "log.sqlite")
    study = StudyConfig(arms=(Arm("text", alpha=1.0), Arm("fused", alpha=0.3)), seed=7)
    svc = ChatService(tiny_bot(k=3), book, study)
    for i in range(5):
        svc.start(f"s{i}", participant_id=f"p{i}")
    assert list(svc.participation) == ["s3", "s4"]  # the oldest were dropped from memory
    recorded = dict(book.session_arm(f"s{i}") for i in range(5))
    restarted = ChatService(tiny_bot(k=3), Logbook(tmp_path / "log.sqlite"), study)  # a new process
    for i in range(5):
        p = restarted.participation_of(f"s{i}")
        assert (p.participant_id, p.arm) == (f"p{i}", recorded[f"p{i}"])
        assert restarted.alpha_for(f"s{i}", 0.5) == study.arm(p.arm).alpha  # the arm's α still wins
    assert len(restarted.participation) == 2


def test_a_locked_study_log_is_busy_not_a_crash(tmp_path):
    import sqlite3

    from bot.service.gate import Busy

    path = tmp_path / "log.sqlite"
    svc = ChatService(tiny_bot(k=3), Logbook(path, busy_timeout_s=0.05),
                      StudyConfig(arms=(Arm("a", alpha=1.0),), seed=1))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Busy, match="study log is not writable"):
            svc.start("s", participant_id="p")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert svc.start("s", participant_id="p").session_id == "s"
