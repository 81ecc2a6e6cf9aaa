"""The SQLite logbook: a scripted study session exports every turn and feedback event."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from bot.service.logbook import CSV_COLUMNS, Logbook, LogbookError, format_summary, main
from bot.service.study import Arm, StudyConfig, assign_recorded

STUDY = StudyConfig(arms=(Arm("text", 0.9), Arm("cf", 0.2)), seed=3)
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def ticking_clock():
    """Each call is 1 ms after the previous one: every timestamp has a known value."""
    ticks = count()
    return lambda: T0 + timedelta(milliseconds=next(ticks))


def item(item_id: str, rank: int, text: float, cf: float) -> dict:
    return {"item_id": item_id, "title": f"Movie {item_id}", "year": 1990 + rank, "genres": ["Crime"],
            "rank": rank, "score": text + cf, "parts": {"text": text, "cf": cf}, "reason": f"why {item_id}"}


def run_script(book: Logbook) -> dict[str, str]:
    """Two participants in two arms: 3 + 2 turns, likes, dislikes, an unlike, ratings, events."""
    arms = {"s1": assign_recorded(book, "s1", "alice", STUDY).name,
            "s2": assign_recorded(book, "s2", "bob", STUDY).name}
    book.log_session("s1", None, None, None, {"client": "ui"})
    book.log_event("s1", "consent", {"accepted": True})
    book.log_turn("s1", 0, "a dark crime film", "Here are 2 picks", [item("m6", 1, 0.5, 0.25), item("m7", 2, 0.4, 0.1)], 12.5)
    book.log_feedback("s1", "m6", "like", 0)
    book.log_rating("s1", 0, 4)
    book.log_turn("s1", 1, "more like that", "Here are 2 new picks", [item("m9", 1, 0.3, 0.3), item("m11", 2, 0.2, 0.3)], 8.0)
    book.log_feedback("s1", "m9", "dislike", 1)
    book.log_feedback("s1", "m6", "unlike")
    book.log_rating("s1", 1, 2)
    book.log_rating("s1", 1, 3)  # changed their mind: the summary counts the latest
    book.log_event("s1", "reset", {})
    book.log_turn("s1", 2, "cartoons", "Here are 1 picks", [item("m0", 1, 0.9, 0.0)], 5.25)
    book.log_session("s2", None, None, "15")
    book.log_turn("s2", 0, "funny kids movie", "Here are 1 picks", [item("m1", 1, 0.6, 0.2)], 20.0)
    book.log_feedback("s2", "m1", "like", 0)
    book.log_rating("s2", 0, 5)
    book.log_turn("s2", 1, "more", "Here are 0 picks", [], 3.0)
    return arms


@pytest.fixture
def scripted(tmp_path):
    book = Logbook(tmp_path / "log.db", clock=ticking_clock())
    arms = run_script(book)
    yield book, arms
    book.close()


def test_jsonl_export_holds_every_turn_and_feedback_event(scripted, tmp_path):
    book, arms = scripted
    assert sorted(arms.values()) == ["cf", "text"]  # two participants, two arms
    out = tmp_path / "log.jsonl"
    assert book.export(out, "jsonl") == 2
    s1, s2 = [json.loads(line) for line in out.read_text().splitlines()]
    assert (s1["session_id"], s1["participant_id"], s1["arm"], s1["user_id"]) == ("s1", "alice", arms["s1"], None)
    assert (s2["session_id"], s2["participant_id"], s2["arm"], s2["user_id"]) == ("s2", "bob", arms["s2"], "15")
    assert s1["meta"] == {"client": "ui"} and s1["created_ts"] == "2026-01-02T03:04:05.000Z"
    assert [(t["turn_index"], t["message"], t["reply"], t["latency_ms"]) for t in s1["turns"]] == [
        (0, "a dark crime film", "Here are 2 picks", 12.5), (1, "more like that", "Here are 2 new picks", 8.0),
        (2, "cartoons", "Here are 1 picks", 5.25)]
    assert s1["turns"][0]["items"] == [item("m6", 1, 0.5, 0.25), item("m7", 2, 0.4, 0.1)]
    assert s1["turns"][1]["items"] == [item("m9", 1, 0.3, 0.3), item("m11", 2, 0.2, 0.3)]
    assert [(f["item_id"], f["kind"], f["turn_index"]) for f in s1["feedback"]] == [
        ("m6", "like", 0), ("m9", "dislike", 1), ("m6", "unlike", None)]
    assert [(r["turn_index"], r["rating"]) for r in s1["ratings"]] == [(0, 4), (1, 2), (1, 3)]
    assert [(e["kind"], e["detail"]) for e in s1["events"]] == [
        ("assigned", {"arm": arms["s1"], "participant_id": "alice", "returning": False}),
        ("consent", {"accepted": True}), ("reset", {})]
    assert [(t["turn_index"], len(t["items"])) for t in s2["turns"]] == [(0, 1), (1, 0)]
    assert [(f["item_id"], f["kind"]) for f in s2["feedback"]] == [("m1", "like")]
    assert [r["rating"] for r in s2["ratings"]] == [5]
    # seq orders everything logged; each timestamp is the (fake) clock at that moment
    entries = sorted([*s1["turns"], *s1["feedback"], *s1["ratings"], *s1["events"]], key=lambda e: e["seq"])
    assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)
    assert s1["feedback"][0]["ts"] == "2026-01-02T03:04:05.005Z"  # the 6th clock reading


def test_csv_export_parses_back_with_nothing_lost(scripted, tmp_path):
    book, arms = scripted
    out = tmp_path / "log.csv"
    n = book.export(out, "csv")
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == n
    counts = book.table_counts()
    by_event = {e: [r for r in rows if r["event"] == e] for e in ("session", "turn", "item", "feedback", "rating", "event")}
    assert {e: len(v) for e, v in by_event.items()} == {
        "session": counts["sessions"], "turn": counts["turns"], "item": counts["items"],
        "feedback": counts["feedback"], "rating": counts["ratings"], "event": counts["events"]}
    assert counts == {"sessions": 2, "participants": 2, "entries": 17, "turns": 5, "items": 6,
                      "feedback": 4, "ratings": 4, "events": 4}
    assert len(rows) == 2 + 5 + 6 + 4 + 4 + 4
    first_item = by_event["item"][0]
    assert (first_item["session_id"], first_item["participant_id"], first_item["arm"]) == ("s1", "alice", arms["s1"])
    assert (first_item["item_id"], int(first_item["rank"]), float(first_item["score"]),
            float(first_item["text"]), float(first_item["cf"]), first_item["reason"]) == ("m6", 1, 0.75, 0.5, 0.25, "why m6")
    assert json.loads(first_item["detail"]) == {"year": 1991, "genres": ["Crime"]}
    assert [(r["session_id"], r["item_id"], r["kind"], r["turn_index"]) for r in by_event["feedback"]] == [
        ("s1", "m6", "like", "0"), ("s1", "m9", "dislike", "1"), ("s1", "m6", "unlike", ""), ("s2", "m1", "like", "0")]
    assert [int(r["rating"]) for r in by_event["rating"]] == [4, 2, 3, 5]
    assert [r["message"] for r in by_event["turn"]] == ["a dark crime film", "more like that", "cartoons",
                                                         "funny kids movie", "more"]
    # within a session, rows follow the order things happened; items follow their turn
    s1_events = [r["event"] for r in rows if r["session_id"] == "s1"]
    assert s1_events == ["session", "event", "event", "turn", "item", "item", "feedback", "rating", "turn",
                         "item", "item", "feedback", "feedback", "rating", "rating", "event", "turn", "item"]


def test_study_summary_per_arm(scripted):
    book, arms = scripted
    rows = {r["arm"]: r for r in book.study_summary(arms=("text", "cf", "empty"))}
    assert list(rows) == ["text", "cf", "empty"]
    assert rows[arms["s1"]] == {"arm": arms["s1"], "sessions": 1, "participants": 1, "turns": 3,
                                "turns_per_session": 3.0, "ratings": 2, "mean_rating": 3.5,
                                "likes": 1, "dislikes": 1, "unlikes": 1}
    assert rows[arms["s2"]] == {"arm": arms["s2"], "sessions": 1, "participants": 1, "turns": 2,
                                "turns_per_session": 2.0, "ratings": 1, "mean_rating": 5.0,
                                "likes": 1, "dislikes": 0, "unlikes": 0}
    assert rows["empty"]["sessions"] == 0 and rows["empty"]["turns_per_session"] is None
    table = format_summary(book.study_summary())
    lines = table.splitlines()
    assert lines[0] == ("| arm | sessions | participants | turns | turns/session | ratings | mean rating "
                        "| likes | dislikes | unlikes |")
    assert f"| {arms['s1']} | 1 | 1 | 3 | 3.00 | 2 | 3.50 | 1 | 1 | 1 |" in lines
    assert len(lines) == 4


def test_sessions_without_an_arm_are_summarised_last(tmp_path):
    with Logbook(tmp_path / "log.db") as book:
        book.log_turn("visitor", 0, "hi", "picks", [], 1.0)
        book.log_session("p", "p1", "a", None)
        rows = book.study_summary()
    assert [r["arm"] for r in rows] == ["a", None]
    assert "| (no arm) | 1 | 0 | 1 | 1.00 | 0 | – |" in format_summary(rows)


def test_wal_mode_and_rows_are_visible_as_they_happen(tmp_path):
    path = tmp_path / "log.db"
    with Logbook(path) as book:
        assert book.journal_mode == "wal"
        book.log_turn("s", 0, "hello", "picks", [item("m1", 1, 0.5, 0.5)], 3.0)
        # another connection (another process, say) sees the committed turn right away
        other = sqlite3.connect(path)
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT message FROM turns").fetchall() == [("hello",)]
        book.log_feedback("s", "m1", "like", 0)
        assert other.execute("SELECT kind FROM feedback").fetchall() == [("like",)]
        other.close()


def test_timestamps_are_utc_iso_with_milliseconds(tmp_path):
    with Logbook(tmp_path / "log.db") as book:
        book.log_event("s", "reset", {})
        (session,) = book.sessions()
    for ts in (session["created_ts"], session["events"][0]["ts"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ts)
        assert abs(datetime.fromisoformat(ts) - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_concurrent_writes_from_threads_all_land(tmp_path):
    n_threads, n_turns = 8, 25  # 200 turns, 400 shown items
    with Logbook(tmp_path / "log.db") as book:
        errors: list[BaseException] = []

        def chat(t: int) -> None:
            try:
                for i in range(n_turns):
                    book.log_turn(f"s{t}", i, f"message {i}", "reply", [item(f"m{i}", 1, 0.5, 0.1),
                                                                        item(f"n{i}", 2, 0.4, 0.1)], float(i))
                    if i % 5 == 0:
                        book.log_feedback(f"s{t}", f"m{i}", "like", i)
            except BaseException as e:  # surfaced below: a thread's exception is otherwise lost
                errors.append(e)
        threads = [threading.Thread(target=chat, args=(t,)) for t in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        counts = book.table_counts()
        assert (counts["turns"], counts["items"], counts["feedback"], counts["sessions"]) == (200, 400, 40, 8)
        for s in book.sessions():
            assert [t["turn_index"] for t in s["turns"]] == list(range(n_turns))


def test_two_connections_to_one_file_share_the_log(tmp_path):
    path = tmp_path / "log.db"
    with Logbook(path) as a, Logbook(path) as b:  # e.g. the UI and the API in two processes
        a.log_turn("s", 0, "one", "r", [], 1.0)
        b.log_turn("s", 1, "two", "r", [], 1.0)
        assert [t["message"] for t in a.sessions()[0]["turns"]] == ["one", "two"]


def test_log_session_is_idempotent_and_updates_given_fields(tmp_path):
    with Logbook(tmp_path / "log.db") as book:
        book.log_session("s", "p1", None, None, {"a": 1})
        book.log_session("s", None, "arm-x", "15", {"b": 2})
        book.log_session("s", None, None, None)
        (s,) = book.sessions()
        assert book.table_counts()["sessions"] == 1
    assert (s["participant_id"], s["arm"], s["user_id"], s["meta"]) == ("p1", "arm-x", "15", {"a": 1, "b": 2})


@pytest.mark.parametrize("call, message", [
    (lambda b: b.log_feedback("s", "m1", "love"), "feedback kind must be one of like, dislike, unlike"),
    (lambda b: b.log_feedback("s", "", "like"), "item_id"),
    (lambda b: b.log_rating("s", 0, 0), "rating must be an integer from 1 to 5"),
    (lambda b: b.log_rating("s", 0, 6), "rating must be"),
    (lambda b: b.log_rating("s", 0, 3.5), "rating must be"),
    (lambda b: b.log_rating("s", 0, True), "rating must be"),
    (lambda b: b.log_rating("s", -1, 3), "turn_index"),
    (lambda b: b.log_turn("s", 0, "m", "r", [{"title": "no id"}], 1.0), r"items\[0\] must be a dict with a string item_id"),
    (lambda b: b.log_turn("s", 0, "m", "r", [], float("nan")), "latency_ms"),
    (lambda b: b.log_event("s", "x", {"when": datetime.now()}), "JSON values"),
    (lambda b: b.log_event("", "reset", {}), "session_id"),
    (lambda b: b.export(b.path.with_suffix(".xml"), "xml"), "jsonl, csv"),
])
def test_invalid_input_is_rejected_and_nothing_is_written(tmp_path, call, message):
    with Logbook(tmp_path / "log.db") as book:
        with pytest.raises(ValueError, match=message):
            call(book)
        assert book.table_counts()["entries"] == 0 and book.table_counts()["sessions"] == 0


def test_files_of_another_schema_are_refused(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE movies (id TEXT)")
    con.commit()
    con.close()
    with pytest.raises(LogbookError, match="another schema .*tables: movies.* new file path"):
        Logbook(other)
    text = tmp_path / "notes.db"
    text.write_text("not a database at all " * 100)
    with pytest.raises(LogbookError, match="not a usable SQLite logbook"):
        Logbook(text)
    newer = tmp_path / "newer.db"
    Logbook(newer).close()
    con = sqlite3.connect(newer)
    con.execute("UPDATE schema_version SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(LogbookError, match="schema version 99"):
        Logbook(newer)


def test_items_round_trip_with_extra_keys_and_missing_parts(tmp_path):
    """API item dicts come back from the export as they went in, extra keys included."""
    odd = [{"item_id": "m1", "title": "A", "rank": 1, "score": 0.5, "parts": {"text": 0.2, "cf": 0.3, "pop": 0.0},
            "reason": "r", "year": None, "genres": [], "badge": "new"},
           {"item_id": "m2"}]
    with Logbook(tmp_path / "log.db") as book:
        book.log_turn("s", 0, "m", "r", odd, 4.0)
        (s,) = book.sessions()
    back = s["turns"][0]["items"]
    assert back[0] == odd[0]
    assert back[1] == {"item_id": "m2", "title": None, "rank": None, "score": None,
                       "parts": {"text": None, "cf": None}, "reason": None}


def test_command_line_export_and_summary(scripted, tmp_path, capsys):
    book, arms = scripted
    db = str(book.path)
    assert main(["export", "--db", db, "--out", str(tmp_path / "x.jsonl"), "--format", "jsonl"]) == 0
    assert "wrote 2 sessions" in capsys.readouterr().out
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 2
    assert main(["export", "--db", db, "--out", str(tmp_path / "x.csv")]) == 0  # format from the suffix
    assert "wrote 25 rows" in capsys.readouterr().out
    assert main(["summary", "--db", db]) == 0
    assert f"| {arms['s2']} | 1 | 1 | 2 | 2.00 | 1 | 5.00 | 1 | 0 | 0 |" in capsys.readouterr().out


def test_command_line_missing_database(tmp_path, capsys):
    missing = tmp_path / "missing.db"
    assert main(["summary", "--db", str(missing)]) == 2
    assert "no logbook at" in capsys.readouterr().err
    assert main(["export", "--db", str(missing), "--out", str(tmp_path / "x.csv"), "--format", "csv"]) == 2
    assert not missing.exists() and not (tmp_path / "x.csv").exists()
    with pytest.raises(SystemExit):
        main(["export", "--db", str(missing), "--out", str(tmp_path / "x.txt"), "--format", "xml"])


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(LogbookError, match="check the folder exists"):
        Logbook(tmp_path / "no-such-dir" / "log.db")
