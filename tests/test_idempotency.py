"""Idempotency keys on turns (issue 33): a retried turn gets the same answer back, byte for
byte, and the session's state moves on once; the answer is kept in the same save as the
state, in every store, and only for a session's last MAX_REPLIES keys."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from fastapi.testclient import TestClient

from bot.conversation.state import Session, session_to_json
from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.service.sessions import Sessions
from bot.service.store import MAX_REPLIES, KeptReply, MemoryStateStore, SqliteStateStore, StoredSession
from tests.helpers import tiny_bot
from tests.redis_server import redis_url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStateStore()
    elif request.param == "sqlite":
        s = SqliteStateStore(tmp_path / "state.sqlite")
        yield s
        s.close()
    else:
        from bot.service.redis_store import RedisStateStore

        with redis_url(tmp_path) as url:
            s = RedisStateStore(url)
            yield s
            s.close()


def serve(store, service: ChatService | None = None) -> TestClient:
    return TestClient(create_app(service or ChatService(tiny_bot(k=3)), Sessions(store)),
                      raise_server_exceptions=False)


def start(client: TestClient) -> tuple[str, dict]:
    r = client.post("/api/sessions", json={})
    assert r.status_code == 201, r.text
    return r.json()["session_id"], {"X-Session-Token": r.json()["token"]}


def turn(client, sid, auth, message, key=None):
    headers = {**auth, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/chat", json={"session_id": sid, "message": message}, headers=headers)


class Counting(ChatService):
    """Counts the turns it computes: a retried key must not even be computed again."""

    computed = 0

    def turn(self, session, message, alpha=None):
        self.computed += 1
        return super().turn(session, message, alpha)


def test_a_retried_turn_is_answered_again_and_applied_once(store):
    service = Counting(tiny_bot(k=3))
    client = serve(store, service)
    sid, auth = start(client)
    first = turn(client, sid, auth, "funny cartoon for kids", key="k-1")
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = turn(client, sid, auth, "funny cartoon for kids", key="k-1")  # the client never saw `first`
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content  # the same answer, byte for byte
    stored = store.load(sid)
    assert stored.version == 1 and len(stored.session.turns) == 1  # applied once
    assert service.computed == 1  # and computed (and logged) once
    # the next turn with a new key moves on; retrying the first key still answers the first turn
    second = turn(client, sid, auth, "funny cartoon for kids", key="k-2")
    assert second.status_code == 200 and second.content != first.content  # a new list: nothing repeats
    assert turn(client, sid, auth, "funny cartoon for kids", key="k-1").content == first.content
    assert store.load(sid).version == 2 and len(store.load(sid).session.turns) == 2
    assert service.computed == 2
    # without a key a turn is a turn, every time
    turn(client, sid, auth, "funny cartoon for kids")
    assert store.load(sid).version == 3


def test_a_key_reused_for_another_message_is_422(store):
    client = serve(store)
    sid, auth = start(client)
    assert turn(client, sid, auth, "funny cartoon for kids", key="k").status_code == 200
    r = turn(client, sid, auth, "a dark crime thriller", key="k")
    assert r.status_code == 422 and "already used on this session for a different request" in r.json()["error"]
    r = client.post("/api/chat", json={"session_id": sid, "message": "funny cartoon for kids", "alpha": 0.2},
                    headers={**auth, "Idempotency-Key": "k"})
    assert r.status_code == 422  # another field changed: another request
    assert store.load(sid).version == 1


def test_a_key_needs_the_owner_and_a_session():
    client = serve(MemoryStateStore())
    sid, auth = start(client)
    assert turn(client, sid, auth, "funny cartoon for kids", key="k").status_code == 200
    # another session's token cannot read the kept answer
    other, other_auth = start(client)
    r = turn(client, sid, other_auth, "funny cartoon for kids", key="k")
    assert r.status_code == 403 and "items" not in r.text
    # a first turn cannot be retried by key: its retry could not name the session it started
    r = client.post("/api/chat", json={"message": "funny cartoon for kids"}, headers={"Idempotency-Key": "k"})
    assert r.status_code == 422 and "POST /api/sessions first" in r.json()["error"]
    for bad in ("has space", "x" * 201):
        assert turn(client, sid, auth, "more", key=bad).status_code == 422


def test_only_a_sessions_last_keys_are_kept(store):
    store.create(StoredSession(Session("s"), "h" * 64, 0))
    version = 0
    for i in range(MAX_REPLIES + 4):
        version = store.save(Session("s"), version, KeptReply(f"k{i}", "f", json.dumps({"i": i})))
        version = store.save(Session("s"), version)  # a turn without a key, feedback or a reset between
    kept = [i for i in range(MAX_REPLIES + 4) if store.reply("s", f"k{i}") is not None]
    assert kept == list(range(4, MAX_REPLIES + 4))
    assert store.reply("s", f"k{MAX_REPLIES + 3}") == KeptReply(f"k{MAX_REPLIES + 3}", "f",
                                                                  json.dumps({"i": MAX_REPLIES + 3}))
    assert store.load("s").version == version == 2 * (MAX_REPLIES + 4)


def test_the_same_key_at_once_is_applied_once(store):
    client = serve(store)
    sid, auth = start(client)
    go = threading.Barrier(4)
    answers: list = [None] * 4

    def send(i: int) -> None:
        go.wait()
        answers[i] = turn(client, sid, auth, "funny cartoon for kids", key="same")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(a is not None and a.status_code == 200 for a in answers)
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert store.load(sid).version == 1


def test_a_key_answered_by_another_process_meanwhile_is_not_applied_twice(store):
    """Replica B looks for the key before replica A has saved it, computes the turn, and
    loses the compare-and-set: it answers with A's kept answer instead of a 409 or a second turn."""
    a = serve(store)
    sid, auth = start(a)
    sent: dict = {}

    class SlowReplica(ChatService):
        def turn(self, session, message, alpha=None):
            if "a" not in sent:  # A's request lands while B computes the same one
                sent["a"] = turn(a, sid, auth, message, key="k")
            return super().turn(session, message, alpha)

    b = serve(store, SlowReplica(tiny_bot(k=3)))
    got = turn(b, sid, auth, "funny cartoon for kids", key="k")
    assert sent["a"].status_code == 200 and got.status_code == 200
    assert got.content == sent["a"].content and got.headers["idempotent-replayed"] == "true"
    assert store.load(sid).version == 1 and len(store.load(sid).session.turns) == 1


def test_a_state_file_from_before_keys_still_loads(tmp_path):
    path = tmp_path / "state.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE session_state (session_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, "
                "version INTEGER NOT NULL, state TEXT NOT NULL, updated REAL NOT NULL)")
    old.execute("INSERT INTO session_state VALUES ('s', ?, 3, ?, strftime('%s', 'now'))",
                ("h" * 64, json.dumps(session_to_json(Session("s", "u5")))))
    old.commit()
    old.close()
    store = SqliteStateStore(path)
    assert store.load("s") == StoredSession(Session("s", "u5"), "h" * 64, 3)
    assert store.reply("s", "k") is None
    assert store.save(Session("s", "u5"), 3, KeptReply("k", "f", "{}")) == 4
    assert store.reply("s", "k") == KeptReply("k", "f", "{}")


def test_a_redis_session_from_before_keys_still_loads(tmp_path):
    from bot.service.redis_store import RedisStateStore

    with redis_url(tmp_path) as url:
        store = RedisStateStore(url)
        store._db.hset(store._key("s"), mapping={"token_sha256": "h" * 64, "version": 3,
                                                 "state": json.dumps(session_to_json(Session("s")))})
        assert store.load("s") == StoredSession(Session("s"), "h" * 64, 3)
        assert store.reply("s", "k") is None
        assert store.save(Session("s"), 3, KeptReply("k", "f", "{}")) == 4
        assert store.reply("s", "k") == KeptReply("k", "f", "{}")
        store.close()
