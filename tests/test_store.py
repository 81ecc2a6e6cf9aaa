"""Durable session state: a Session survives JSON and SQLite unchanged; stale saves are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.session import Session, session_from_json, session_to_json
from bot.sessions import Sessions
from bot.store import MemoryStateStore, SqliteStateStore, StateConflict, StoredSession
from tests.helpers import tiny_bot


def rich_session() -> Session:
    """A session with every field set, from real turns of the tiny bot."""
    bot = tiny_bot(k=3)
    s = bot.new_session("s1", "u5")
    for message in ("funny cartoons after 1995, no horror", "I loved Toy Parade", "show me more"):
        s = bot.respond(message, s).session
    return bot.feedback(s, disliked=("m0",))


def test_json_round_trip_is_exact():
    s = rich_session()
    assert s.readings and s.years is not None and s.shown_ids and s.banned_genres and s.liked_ids and s.transcript
    assert session_from_json(session_to_json(s)) == s


def test_other_formats_are_refused():
    with pytest.raises(ValueError, match="this code reads format"):
        session_from_json({"format": 99})


@pytest.mark.parametrize("make", [MemoryStateStore, "sqlite"])
def test_store_create_load_save_and_conflicts(make, tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite") if make == "sqlite" else make()
    s = rich_session()
    store.create(StoredSession(Session("s1"), "h" * 64, 0))
    with pytest.raises(StateConflict):
        store.create(StoredSession(Session("s1"), "h" * 64, 0))
    assert store.save(s, 0) == 1
    with pytest.raises(StateConflict):
        store.save(s, 0)  # another process already moved it on
    assert store.load("s1") == StoredSession(s, "h" * 64, 1)
    assert store.load("nope") is None


def test_sqlite_state_outlives_the_process_object(tmp_path):
    path = tmp_path / "state.sqlite"
    sessions = Sessions(SqliteStateStore(path))
    sid = sessions.new_id()
    token = sessions.issue(Session(sid, "u5"))
    state = replace(rich_session(), session_id=sid)
    sessions.save(sessions.claim(sid, token), state)
    again = Sessions(SqliteStateStore(path))  # a restarted server
    assert again.claim(sid, token).session == state


def test_a_locked_store_is_503_with_retry_after(tmp_path, monkeypatch):
    import sqlite3

    from fastapi.testclient import TestClient

    import bot.store as store_module
    from bot.api import create_app
    from bot.service import ChatService

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / "state.sqlite"
    client = TestClient(create_app(ChatService(tiny_bot(k=3)), Sessions(SqliteStateStore(path))))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the file
    try:
        r = client.post("/api/chat", json={"message": "funny cartoon for kids"})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert "session store cannot answer now" in r.json()["error"]
    assert client.post("/api/chat", json={"message": "funny cartoon for kids"}).status_code == 200


def test_sessions_untouched_past_the_ttl_are_dropped_at_open(tmp_path):
    import sqlite3
    import time

    path = tmp_path / "state.sqlite"
    store = SqliteStateStore(path)
    for sid in ("old", "new"):
        store.create(StoredSession(Session(sid), "h" * 64, 0))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE session_state SET updated = ? WHERE session_id = 'old'", (time.time() - 10_000,))
    store.close()
    again = SqliteStateStore(path, ttl_s=3_600)
    assert again.load("old") is None and again.load("new") is not None
    assert SqliteStateStore(path, ttl_s=None).count() == 1
