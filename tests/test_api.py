"""POST /api/chat over the tiny bot: sessions continue, bad input is a 4xx JSON error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.api import SessionStore, create_app
from bot.service import ChatService
from tests.helpers import tiny_bot


@pytest.fixture
def client():
    return TestClient(create_app(ChatService(tiny_bot(k=3))), raise_server_exceptions=False)


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


def test_feedback_rate_reset_over_http(client):
    r = client.post("/api/chat", json={"session_id": "f", "message": "funny cartoon for kids"})
    first = [i["item_id"] for i in r.json()["items"]]
    r = client.post("/api/feedback", json={"session_id": "f", "item_id": first[0], "kind": "dislike"})
    assert r.status_code == 200 and r.json()["understood"]["disliked"] == [first[0]]
    r = client.post("/api/feedback", json={"session_id": "f", "item_id": first[1], "kind": "like"})
    assert r.json()["understood"]["liked"] == [first[1]]
    assert client.post("/api/rate", json={"session_id": "f", "rating": 4}).status_code == 200
    assert client.post("/api/rate", json={"session_id": "f", "rating": 9}).status_code == 422
    r = client.post("/api/feedback", json={"session_id": "f", "item_id": "zzz", "kind": "like"})
    assert r.status_code == 400 and "unknown item id" in r.json()["error"]
    r = client.post("/api/feedback", json={"session_id": "nope", "item_id": first[0], "kind": "like"})
    assert r.status_code == 400 and "unknown session_id" in r.json()["error"]
    r = client.post("/api/reset", json={"session_id": "f"})
    assert r.json()["understood"] == {"liked": [], "disliked": [], "left_out_genres": [],
                                      "left_out_title_words": [], "years": None, "user_id": None}
    r = client.post("/api/chat", json={"session_id": "f", "message": "funny cartoon for kids"})
    assert [i["item_id"] for i in r.json()["items"]] == first  # reset forgot what was shown


def test_auth_guards_the_api():
    app = create_app(ChatService(tiny_bot()), credentials=("pilot", "s3cret"))
    c = TestClient(app)
    body = {"session_id": "a", "message": "cartoon"}
    r = c.post("/api/chat", json=body)
    assert r.status_code == 401 and r.json()["error"] == "credentials required"
    assert c.post("/api/chat", json=body, auth=("pilot", "wrong")).status_code == 401
    assert c.post("/api/chat", json=body, auth=("pilot", "s3cret")).status_code == 200


def test_concurrent_sessions_do_not_mix(client):
    from concurrent.futures import ThreadPoolExecutor

    def conversation(sid: str, first: str, liked_title: str):
        a = client.post("/api/chat", json={"session_id": sid, "message": first}).json()
        b = client.post("/api/chat", json={"session_id": sid, "message": f"I loved {liked_title}"}).json()
        return a, b

    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(conversation, "kids", "funny cartoon for kids", "Toy Parade")
        fb = pool.submit(conversation, "dark", "dark crime thriller", "Cold Case")
        (a1, a2), (b1, b2) = fa.result(), fb.result()
    assert a2["understood"]["liked"] == ["m3"] and b2["understood"]["liked"] == ["m11"]
    a_ids = {i["item_id"] for i in a1["items"] + a2["items"]}
    b_ids = {i["item_id"] for i in b1["items"] + b2["items"]}
    assert len(a_ids) == 6 and len(b_ids) == 6  # each session's own no-repeat rule only
