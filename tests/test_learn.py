"""Learning from the logbook (bot/offline/learn.py, fusion/learn.py) on a hand-made log with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from bot.offline.learn import logged_sessions, main, parse_since
from bot.service.logbook import Logbook
from fusion.build import load_or_build
from fusion.config import PipelineConfig
from fusion.learn import LearnConfig, learn, log_interactions, session_baskets
from retrieval.artifacts import tree_fingerprint
from retrieval.encoder import HashingEncoder
from retrieval.pairs import Pair, log_pairs


def clock(start: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)):
    t = [start]

    def now() -> datetime:
        t[0] += timedelta(seconds=1)
        return t[0]
    return now


def item(i: str, rank: int) -> dict:
    return {"item_id": i, "title": i, "rank": rank, "score": 1.0, "parts": {"text": 0.5, "cf": 0.5}, "reason": ""}


def turn(book: Logbook, sid: str, index: int, message: str, shown: list[str]) -> None:
    book.log_turn(sid, index, message, "reply", [item(i, r + 1) for r, i in enumerate(shown)], 12.0)


def consent(book: Logbook, sid: str, pid: str, accepted: bool = True) -> None:
    book.assign_participant(sid, pid, lambda counts, previous: previous or "words")
    book.log_event(sid, "consent", {"accepted": accepted})


@pytest.fixture
def logbook(tmp_path: Path) -> Path:
    """Six sessions with a known right answer:
    - "anon": no study; kids: likes m0, m1, dislikes m8 then takes m1 back ("unlike"); rates turn 0 a 5
    - "p1": participant P1 consented; dark: likes m6, m7 at turn 1
    - "p2": participant P2, no consent step logged: never used
    - "p3a"/"p3b": participant P3 consented, then withdrew in a later session: neither used
    - "reset": likes m2, resets, then a new conversation likes m9 (two parts)
    """
    path = tmp_path / "sessions.sqlite"
    with Logbook(path, clock=clock()) as book:
        book.log_session("anon", None, None, None)
        turn(book, "anon", 0, "something for kids", ["m0", "m1", "m2", "m3"])
        book.log_feedback("anon", "m0", "like", 0)
        book.log_feedback("anon", "m1", "like", 0)
        book.log_feedback("anon", "m8", "dislike", 0)
        book.log_feedback("anon", "m1", "unlike", 0)
        book.log_rating("anon", 0, 5)
        consent(book, "p1", "P1")
        turn(book, "p1", 0, "a crime film", ["m9", "m6"])
        turn(book, "p1", 1, "darker", ["m6", "m7"])
        book.log_feedback("p1", "m6", "like", 1)
        book.log_feedback("p1", "m7", "like", 1)
        book.assign_participant("p2", "P2", lambda counts, previous: "words")
        turn(book, "p2", 0, "horror", ["m10"])
        book.log_feedback("p2", "m10", "like", 0)
        consent(book, "p3a", "P3")
        turn(book, "p3a", 0, "cartoons", ["m5"])
        book.log_feedback("p3a", "m5", "like", 0)
        consent(book, "p3b", "P3", accepted=False)
        book.log_session("reset", None, None, None)
        turn(book, "reset", 0, "funny farm", ["m2"])
        book.log_feedback("reset", "m2", "like", 0)
        book.log_event("reset", "reset", {"turns": 1})
        turn(book, "reset", 0, "mafia", ["m9"])
        book.log_feedback("reset", "m9", "like", 0)
    return path


def read(path: Path, since=None):
    with Logbook(path, create=False) as book:
        return logged_sessions(book.sessions(), since)


def test_sessions_respect_consent_and_feedback_order(logbook: Path) -> None:
    sessions, skipped = read(logbook)
    by_id = {s.session_id: s for s in sessions}
    assert sorted(by_id) == ["anon", "p1", "reset", "reset/1"]
    assert skipped["study participant without recorded consent"] == 3  # P2 never, P3 withdrew (2 sessions)
    anon = by_id["anon"]
    assert anon.liked == (("m0", 0),) and anon.disliked == (("m8", 0),)  # m1 was taken back
    assert anon.rated_lists == ((0, 5, ("m0", "m1", "m2", "m3")),)
    assert by_id["p1"].taste_key() == "participant:P1" and by_id["p1"].messages == ("a crime film", "darker")
    assert by_id["reset"].liked == (("m2", 0),) and by_id["reset/1"].liked == (("m9", 0),)
    assert by_id["reset/1"].messages == ("mafia",)


def test_since_keeps_later_sessions(logbook: Path) -> None:
    sessions, skipped = read(logbook, parse_since("2026-12-01T09:00:20Z"))
    assert {s.session_id for s in sessions} == {"reset", "reset/1"}
    assert skipped["before --since"] == 2
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since("last tuesday")


def test_pairs_interactions_and_baskets(logbook: Path, tiny_catalog) -> None:
    sessions, _ = read(logbook)
    pairs = log_pairs(sessions, tiny_catalog)
    # hard negative from the dislike; the context is everything said up to the liked item's turn
    assert Pair("something for kids", "m0", "m8") in pairs
    assert Pair("a crime film darker", "m6") in pairs and Pair("a crime film darker", "m7") in pairs
    assert not any(p.item_id in ("m10", "m5", "m1") for p in pairs)  # no consent / taken back
    inter = log_interactions(sessions, tiny_catalog, LearnConfig())
    got = {(u, tiny_catalog.items[r].item_id): float(w)
           for u, r, w in zip(inter.user_ids, inter.item_rows, inter.weights)}
    assert got == {("session:anon", "m0"): 5.0, ("session:anon", "m8"): 1.0,
                   # the rated (5/5) list lends its top items the person did not react to (m1, m2, m3)
                   ("session:anon", "m1"): 3.0, ("session:anon", "m2"): 3.0, ("session:anon", "m3"): 3.0,
                   ("participant:P1", "m6"): 5.0, ("participant:P1", "m7"): 5.0,
                   ("session:reset", "m2"): 5.0, ("session:reset/1", "m9"): 5.0}
    assert session_baskets(sessions, tiny_catalog) == [[6, 7]]


def test_one_learning_round_writes_a_new_folder_and_leaves_the_serving_one(
        logbook: Path, serving: Path, tmp_path: Path, tiny_catalog, checkerboard) -> None:
    sessions, _ = read(logbook)
    files_before = {p: p.read_bytes() for p in serving.rglob("*") if p.is_file()}
    before = tree_fingerprint(serving)
    out = tmp_path / "learned"
    report = learn(serving, out, tiny_catalog, checkerboard, HashingEncoder(dim=256), sessions,
                   LearnConfig(holdout_share=0.0))
    assert tree_fingerprint(serving) == before == report.fingerprint_before
    assert {p: p.read_bytes() for p in serving.rglob("*") if p.is_file()} == files_before
    assert report.fingerprint_after != before
    assert report.sessions == 4 and report.new_interactions == 9 and report.pairs == 5 and report.baskets == 1
    assert (out / "learned" / "pairs.jsonl").read_text().count("\n") == 5
    # the server's loader reads the new folder as it is: CF reused (not refitted), and it
    # knows the participant learned from, with the likes as their taste
    rec, build = load_or_build(tiny_catalog, checkerboard, HashingEncoder(dim=256), out,
                               PipelineConfig(n_candidates=None), progress=False)
    assert "cf" not in build.built and "text" not in build.built
    assert rec.cf.knows_user("participant:P1") and not rec.cf.knows_user("participant:P2")
    # the serving folder's CF never heard of them
    old, _ = load_or_build(tiny_catalog, checkerboard, HashingEncoder(dim=256), tmp_path / "copy",
                           PipelineConfig(n_candidates=None), progress=False)
    assert not old.cf.knows_user("participant:P1")
    assert len(rec.cf.counts) == len(tiny_catalog)
    assert rec.cf.counts[6] == old.cf.counts[6] + 1  # P1's like of m6 counts as one more interaction
    with pytest.raises(ValueError, match="not empty"):
        learn(serving, out, tiny_catalog, checkerboard, HashingEncoder(dim=256), sessions)
    with pytest.raises(ValueError, match="outside the serving"):
        learn(serving, serving / "x", tiny_catalog, checkerboard, HashingEncoder(dim=256), sessions)


def test_learning_again_from_the_same_log_counts_each_session_once(
        logbook: Path, serving: Path, tmp_path: Path, tiny_catalog, checkerboard) -> None:
    sessions, _ = read(logbook)
    first = learn(serving, tmp_path / "a", tiny_catalog, checkerboard, HashingEncoder(dim=256), sessions,
                  LearnConfig(holdout_share=0.0))
    second = learn(tmp_path / "a", tmp_path / "b", tiny_catalog, checkerboard, HashingEncoder(dim=256),
                   sessions, LearnConfig(holdout_share=0.0))
    assert second.sessions == 0 and second.new_interactions == 0 and second.interactions == first.interactions


def test_held_out_sessions_are_compared_before_and_after(
        logbook: Path, serving: Path, tmp_path: Path, tiny_catalog, checkerboard) -> None:
    sessions, _ = read(logbook)
    report = learn(serving, tmp_path / "a", tiny_catalog, checkerboard, HashingEncoder(dim=256), sessions,
                   LearnConfig(holdout_share=0.5, seed=0))
    c = report.comparison
    assert report.held_out == 2 and c["sessions"] == 2 and report.sessions == 2
    for side in ("before", "after"):
        assert 0.0 <= c[side]["recall@10"] <= 1.0
    # the tiny catalog has 12 items and every session liked one or two: a list of 10
    # holds most liked items whatever the pipeline, so both recalls are high
    assert c["before"]["recall@10"] >= 0.5


def test_the_command_refuses_a_handful_of_sessions(logbook: Path, tmp_path: Path, capsys) -> None:
    code = main(["--log-db", str(logbook), "--artifacts", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "only 4 usable sessions" in err and "--min-sessions 20" in err
    assert not (tmp_path / "o").exists()
    code = main(["--log-db", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "o")])
    assert code == 2 and "no logbook" in capsys.readouterr().err


def test_interactions_arrays_are_typed(logbook: Path, tiny_catalog) -> None:
    inter = log_interactions(read(logbook)[0], tiny_catalog)
    assert inter.item_rows.dtype == np.int64 and inter.weights.dtype == np.float32
    assert inter.timestamps.min() > 1_700_000_000  # the sessions' logged start, in Unix seconds


def test_encoder_fine_tuned_on_logged_pairs_is_what_the_new_folder_serves(
        logbook: Path, tmp_path: Path, tiny_catalog, checkerboard, tiny_model: Path) -> None:
    from retrieval.encoder import TransformerEncoder
    from retrieval.finetune import FinetuneConfig

    serving = tmp_path / "serving"
    load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32), serving,
                  PipelineConfig(n_candidates=None), progress=False)
    before = tree_fingerprint(serving)
    sessions, _ = read(logbook)
    out = tmp_path / "learned"
    report = learn(serving, out, tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32), sessions,
                   LearnConfig(holdout_share=0.0),
                   finetune=FinetuneConfig(max_steps=2, batch_size=4, eval_every=1, val_pool=12, mixed_precision="no"))
    assert report.finetuned and (out / "learned" / "encoder" / "config.json").exists()
    assert tree_fingerprint(serving) == before
    rec, build = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32), out,
                               PipelineConfig(n_candidates=None), progress=False, finetune=True)
    # served with the logged-pairs encoder, its vectors reused (not re-embedded with the base model)
    assert rec.retriever.encoder.model_dir == out / "learned" / "encoder"
    assert "text" not in build.built and "encoder" not in build.built
