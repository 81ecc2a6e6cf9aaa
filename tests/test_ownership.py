"""Only the holder of a session's token can read or change it; made-up ids are refused
with the migration hint; unknown ids leave nothing behind in memory."""

from __future__ import annotations

import tracemalloc

import pytest
from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.conversation.state import Session
from bot.service.identity import UserTokens
from bot.service.sessions import NotOwner, Sessions
from tests.helpers import tiny_bot

USERS = UserTokens(b"a-test-secret-of-at-least-32-characters")


@pytest.fixture
def app():
    sessions = Sessions()
    return TestClient(create_app(ChatService(tiny_bot(k=3)), sessions, USERS),
                      raise_server_exceptions=False), sessions


def owned(client, user_id=None):
    proof = {"user_token": USERS.issue(user_id)} if user_id else {}
    r = client.post("/api/chat", json={"message": "funny cartoon for kids", "user_id": user_id, **proof})
    assert r.status_code == 200
    return r.json()["session_id"], r.json()["token"]


CALLS = [
    ("/api/chat", lambda sid: {"session_id": sid, "message": "show me more"}),
    ("/api/chat", lambda sid: {"session_id": sid, "message": "more", "user_id": "u1",
                               "user_token": USERS.issue("u1")}),
    ("/api/feedback", lambda sid: {"session_id": sid, "item_id": "m0", "kind": "like"}),
    ("/api/rate", lambda sid: {"session_id": sid, "rating": 5}),
    ("/api/reset", lambda sid: {"session_id": sid}),
]


@pytest.mark.parametrize("path, body", CALLS)
@pytest.mark.parametrize("who", ["no token", "wrong token", "another session's token"])
def test_no_cross_session_reads_or_writes(app, path, body, who):
    client, sessions = app
    victim, _ = owned(client, user_id="u5")
    _, intruder_token = owned(client)
    before = sessions.store.load(victim)
    headers = {"no token": {}, "wrong token": {"X-Session-Token": "x" * 43},
               "another session's token": {"X-Session-Token": intruder_token}}[who]
    r = client.post(path, json=body(victim), headers=headers)
    assert r.status_code == 403
    assert set(r.json()) == {"error"} and "issued by the server" in r.json()["error"]
    assert "u5" not in r.text and "m0" not in r.text  # nothing of the victim's state leaks
    after = sessions.store.load(victim)
    assert after == before  # not one field changed


def test_client_chosen_ids_are_refused_with_the_migration_hint(app):
    client, _ = app
    r = client.post("/api/chat", json={"session_id": "my-own-id", "message": "cartoon"})
    assert r.status_code == 403
    assert "POST /api/sessions" in r.json()["error"] and "X-Session-Token" in r.json()["error"]
    assert "my-own-id" not in r.text


def test_long_ids_are_refused_without_echo(app):
    client, _ = app
    long_id = "a" * 100_000
    for path in ("/api/chat", "/api/reset"):
        r = client.post(path, json={"session_id": long_id, "message": "x"} if path == "/api/chat"
                        else {"session_id": long_id})
        assert r.status_code == 422 and long_id[:100] not in r.text
    r = client.post("/api/feedback", json={"session_id": "abc", "item_id": "z" * 5_000, "kind": "like"})
    assert r.status_code == 422 and "z" * 300 not in r.text


def test_memory_stays_flat_across_20000_unknown_ids():
    sessions = Sessions()
    sessions.issue(Session(sessions.new_id()))
    tracemalloc.start()
    try:
        def probe(n: int, offset: int) -> None:
            for i in range(n):
                sid = f"unknown{offset + i}"
                with sessions.lock(sid):
                    with pytest.raises(NotOwner):
                        sessions.claim(sid, "some-token")
        probe(1_000, 0)  # warm up caches of the interpreter
        base = tracemalloc.take_snapshot()
        probe(20_000, 1_000)
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after 20,000 unknown ids"  # was ~0.3 KB per id
    assert sessions.cached() == 1
