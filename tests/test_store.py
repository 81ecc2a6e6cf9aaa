"""Durable session state: a Session survives JSON and SQLite unchanged; stale saves are refused."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from bot.conversation.state import Session, session_from_json, session_to_json
from bot.service.sessions import Sessions
from bot.service.store import MemoryStateStore, SqliteStateStore, StateConflict, StoredSession
from tests.helpers import tiny_bot
from tests.redis_server import redis_url


@pytest.fixture
def redis_store(tmp_path):
    """A RedisStateStore on a redis-server of this test's own (skips without one)."""
    from bot.service.redis_store import RedisStateStore

    with redis_url(tmp_path) as url:
        store = RedisStateStore(url)
        yield store
        store.close()


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


def make_store(kind: str, tmp_path, request) -> object:
    if kind == "sqlite":
        return SqliteStateStore(tmp_path / "state.sqlite")
    return request.getfixturevalue("redis_store") if kind == "redis" else MemoryStateStore()


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_store_create_load_save_and_conflicts(kind, tmp_path, request):
    store = make_store(kind, tmp_path, request)
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

    import bot.service.store as store_module
    from bot.service.api import create_app
    from bot.service.chatservice import ChatService

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


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_state_outlives_the_server_object(kind, tmp_path, request):
    """A second Sessions over the same store (a restarted server, or another replica)
    continues the session; a stale copy of it is refused."""
    store = make_store(kind, tmp_path, request)
    sessions, other = Sessions(store), Sessions(store)
    sid = sessions.new_id()
    token = sessions.issue(Session(sid, "u5"))
    state = replace(rich_session(), session_id=sid)
    stale = other.claim(sid, token)
    sessions.save(sessions.claim(sid, token), state)
    assert other.claim(sid, token).session != state  # its cached copy: still the old one
    with pytest.raises(StateConflict):
        other.save(stale, state)  # two replicas never overwrite each other's turns
    assert Sessions(store).claim(sid, token).session == state


def test_redis_sessions_expire_after_their_ttl(redis_store):
    from bot.service.redis_store import RedisStateStore

    short = RedisStateStore(redis_store.url, ttl_s=1, prefix="short:")
    short.create(StoredSession(Session("old"), "h" * 64, 0))
    assert short.load("old") is not None and short.count() == 1
    redis_store._db.pexpire(short._key("old"), 50)  # rather than sleep a whole second
    deadline = time.monotonic() + 5
    while short.load("old") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert short.load("old") is None
    assert redis_store._db.ttl(short._key("old")) == -2  # gone, not merely hidden


def test_a_redis_that_went_away_is_503_with_what_to_do(tmp_path):
    from fastapi.testclient import TestClient

    from bot.service.api import create_app
    from bot.service.redis_store import RedisStateStore
    from bot.service.chatservice import ChatService
    from bot.service.store import StateStoreError

    with redis_url(tmp_path) as url:
        store = RedisStateStore(url)
        client = TestClient(create_app(ChatService(tiny_bot(k=3)), Sessions(store)))
        assert client.post("/api/chat", json={"message": "funny cartoon for kids"}).status_code == 200
    r = client.post("/api/chat", json={"message": "funny cartoon for kids"})  # the server is stopped
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert f"Redis at {url}" in r.json()["error"]
    with pytest.raises(StateStoreError, match="start redis-server there, or pass another --redis-url"):
        RedisStateStore(url)
