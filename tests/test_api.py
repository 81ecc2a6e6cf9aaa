"""POST /api/chat over the tiny bot: sessions continue, bad input is a 4xx JSON error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.api import SessionStore, create_app
from tests.helpers import tiny_bot


@pytest.fixture
def client():
    return TestClient(create_app(tiny_bot(k=3)), raise_server_exceptions=False)


def test_chat_turns_continue_a_session(client):
    r1 = client.post("/api/chat", json={"session_id": "a", "message": "funny cartoon for kids", "user_id": None})
    assert r1.status_code == 200
    body = r1.json()
    assert body["session_id"] == "a" and body["reply"].startswith("Here are 3 picks")
    items = body["items"]
    assert [i["rank"] for i in items] == [1, 2, 3]
    for i in items:
        assert set(i) >= {"item_id", "title", "rank", "score", "parts", "reason"}
        assert i["score"] == pytest.approx(i["parts"]["text"] + i["parts"]["cf"], abs=1e-5)
        assert i["reason"]
    r2 = client.post("/api/chat", json={"session_id": "a", "message": "a dark crime thriller"})
    ids2 = {i["item_id"] for i in r2.json()["items"]}
    assert not ids2 & {i["item_id"] for i in items}
    # a new session id starts fresh: the first list can come back
    r3 = client.post("/api/chat", json={"session_id": "b", "message": "funny cartoon for kids"})
    assert [i["item_id"] for i in r3.json()["items"]] == [i["item_id"] for i in items]


@pytest.mark.parametrize("payload, status, message", [
    ({"session_id": "a", "message": "  "}, 400, "what you would like"),
    ({"session_id": "a"}, 422, "message: Field required"),
    ({"session_id": "", "message": "x"}, 422, "session_id"),
    ({"session_id": "a", "message": "x", "alpha": 3}, 422, "alpha"),
    ({"session_id": "a", "message": "x", "user_id": "ghost"}, 400, "unknown user id 'ghost'"),
    ([1, 2], 422, "invalid request"),
])
def test_bad_input_is_4xx_json(client, payload, status, message):
    r = client.post("/api/chat", json=payload)
    assert r.status_code == status
    assert message in r.json()["error"]


def test_malformed_json_is_422(client):
    r = client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()


def test_known_user_and_switch(client):
    r = client.post("/api/chat", json={"session_id": "k", "message": "a movie", "user_id": "u5"})
    assert r.status_code == 200
    r = client.post("/api/chat", json={"session_id": "k", "message": "another", "user_id": None})
    assert r.status_code == 200


def test_session_store_drops_least_recent():
    from bot.session import Session

    store = SessionStore(capacity=2)
    for sid in ("a", "b", "c"):
        store.put(Session(sid))
    assert store.get("a") is None and store.get("b") is not None and store.get("c") is not None
