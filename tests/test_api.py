"""The HTTP API over the tiny bot: server-issued sessions continue, bad input is a 4xx JSON error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.service.identity import UserTokens
from bot.service.sessions import Sessions
from tests.helpers import tiny_bot

USERS = UserTokens(b"a-test-secret-of-at-least-32-characters")


@pytest.fixture
def client():
    return TestClient(create_app(ChatService(tiny_bot(k=3)), users=USERS), raise_server_exceptions=False)


def start(client, **body) -> tuple[str, dict]:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()["session_id"], {"X-Session-Token": r.json()["token"]}


def test_chat_turns_continue_a_session(client):
    sid, auth = start(client)
    r1 = client.post("/api/chat", json={"session_id": sid, "message": "funny cartoon for kids"}, headers=auth)
    assert r1.status_code == 200
    body = r1.json()
    lead, picks = body["reply"].split("\n")[:2]
    assert body["session_id"] == sid and lead.startswith("Noted: Comedy") and picks.startswith("Here are 3 picks")
    read = body["understood"]["last_message"]  # how the message was read, as the reply's first line says
    assert read["act"] == "request" and body["understood"]["audience"] == "kids"
    assert {"kind": "genre", "text": "funny", "polarity": "+", "value": "Comedy"} in read["spans"]
    items = body["items"]
    assert [i["rank"] for i in items] == [1, 2, 3]
    for i in items:
        assert set(i) >= {"item_id", "title", "rank", "score", "parts", "reason", "facets"}
        assert set(i["facets"]) == {"people", "numbers", "categories", "topics", "description"}
        assert i["score"] == pytest.approx(i["parts"]["text"] + i["parts"]["cf"], abs=1e-5)
        assert i["reason"]
    r2 = client.post("/api/chat", json={"session_id": sid, "message": "a dark crime thriller"}, headers=auth)
    ids2 = {i["item_id"] for i in r2.json()["items"]}
    assert not ids2 & {i["item_id"] for i in items}
    # a chat without a session_id starts a new one: the first list can come back
    r3 = client.post("/api/chat", json={"message": "funny cartoon for kids"})
    assert r3.status_code == 200 and r3.json()["session_id"] != sid and r3.json()["token"]
    assert [i["item_id"] for i in r3.json()["items"]] == [i["item_id"] for i in items]
    r4 = client.post("/api/chat", json={"session_id": r3.json()["session_id"], "message": "more"},
                     headers={"X-Session-Token": r3.json()["token"]})
    assert r4.status_code == 200 and "token" not in r4.json()


def test_issued_ids_and_tokens_are_unguessable(client):
    a, ta = start(client)
    b, tb = start(client)
    assert a != b and ta != tb
    assert len(a) >= 22 and len(ta["X-Session-Token"]) >= 43  # 128 and 256 random bits


@pytest.mark.parametrize("payload, status, message", [
    ({"message": "  "}, 400, "what you would like"),
    ({}, 422, "message: Field required"),
    ({"session_id": "", "message": "x"}, 422, "session_id"),
    ({"message": "x", "alpha": 3}, 422, "alpha"),
    ({"message": "x", "alpha": "0.5"}, 422, "alpha: Input should be a valid number"),
    ({"message": "x", "user_id": "ghost", "user_token": USERS.issue("ghost")}, 400, "unknown user id 'ghost'"),
    ({"message": "x", "user_id": "ghost"}, 403, "needs its user_token"),  # existence is not told without proof
    ({"message": "x", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ([1, 2], 422, "invalid request"),
])
def test_bad_input_is_4xx_json(client, payload, status, message):
    r = client.post("/api/chat", json=payload)
    assert r.status_code == status
    assert message in r.json()["error"]


def test_malformed_json_is_422(client):
    r = client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()


def test_known_user_is_bound_and_changes_only_when_asked(client):
    r = client.post("/api/chat", json={"message": "a movie", "user_id": "u5", "user_token": USERS.issue("u5")})
    assert r.status_code == 200 and r.json()["understood"]["user_id"] == "u5"
    sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
    r = client.post("/api/chat", json={"session_id": sid, "message": "another"}, headers=auth)
    assert r.json()["understood"]["user_id"] == "u5"  # omitted: kept
    r = client.post("/api/chat", json={"session_id": sid, "message": "another", "user_id": None}, headers=auth)
    assert r.status_code == 200 and r.json()["understood"]["user_id"] is None


def test_rating_is_strict(client):
    sid, auth = start(client)
    client.post("/api/chat", json={"session_id": sid, "message": "cartoon"}, headers=auth)
    for bad in (True, "4", 4.0):
        r = client.post("/api/rate", json={"session_id": sid, "rating": bad}, headers=auth)
        assert r.status_code == 422 and "rating" in r.json()["error"], bad
    assert client.post("/api/rate", json={"session_id": sid, "rating": 4}, headers=auth).status_code == 200


def test_feedback_rate_reset_over_http(client):
    sid, auth = start(client)
    r = client.post("/api/chat", json={"session_id": sid, "message": "funny cartoon for kids"}, headers=auth)
    first = [i["item_id"] for i in r.json()["items"]]
    r = client.post("/api/feedback", json={"session_id": sid, "item_id": first[0], "kind": "dislike"}, headers=auth)
    assert r.status_code == 200 and r.json()["understood"]["disliked"] == [first[0]]
    r = client.post("/api/feedback", json={"session_id": sid, "item_id": first[1], "kind": "like"}, headers=auth)
    assert r.json()["understood"]["liked"] == [first[1]]
    assert client.post("/api/rate", json={"session_id": sid, "rating": 4}, headers=auth).status_code == 200
    assert client.post("/api/rate", json={"session_id": sid, "rating": 9}, headers=auth).status_code == 422
    r = client.post("/api/feedback", json={"session_id": sid, "item_id": "zzz", "kind": "like"}, headers=auth)
    assert r.status_code == 400 and "unknown item id" in r.json()["error"]
    r = client.post("/api/reset", json={"session_id": sid}, headers=auth)
    assert r.json()["understood"] == {"liked": [], "disliked": [], "left_out_genres": [],
                                      "left_out_title_words": [], "years": None, "seen": [], "filters": [],
                                      "audience": None, "user_id": None, "last_message": None}
    r = client.post("/api/chat", json={"session_id": sid, "message": "funny cartoon for kids"}, headers=auth)
    assert [i["item_id"] for i in r.json()["items"]] == first  # reset forgot what was shown


def test_concurrent_sessions_do_not_mix(client):
    from concurrent.futures import ThreadPoolExecutor

    def conversation(first: str, liked_title: str):
        sid, auth = start(client)
        a = client.post("/api/chat", json={"session_id": sid, "message": first}, headers=auth).json()
        b = client.post("/api/chat", json={"session_id": sid, "message": f"I loved {liked_title}"},
                        headers=auth).json()
        return a, b

    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(conversation, "funny cartoon", "Toy Parade")  # no audience: 12 items to fill both lists
        fb = pool.submit(conversation, "dark crime thriller", "Cold Case")
        (a1, a2), (b1, b2) = fa.result(), fb.result()
    assert a2["understood"]["liked"] == ["m3"] and b2["understood"]["liked"] == ["m11"]
    a_ids = {i["item_id"] for i in a1["items"] + a2["items"]}
    b_ids = {i["item_id"] for i in b1["items"] + b2["items"]}
    assert len(a_ids) == 6 and len(b_ids) == 6  # each session's own no-repeat rule only


def test_evicted_sessions_come_back_from_the_store():
    sessions = Sessions(capacity=1)
    c = TestClient(create_app(ChatService(tiny_bot(k=3)), sessions))
    a, auth_a = start(c)
    first = c.post("/api/chat", json={"session_id": a, "message": "funny cartoon for kids"}, headers=auth_a).json()
    start(c)  # evicts a from the cache
    assert sessions.cached() == 1
    r = c.post("/api/chat", json={"session_id": a, "message": "show me more"}, headers=auth_a).json()
    assert not {i["item_id"] for i in r["items"]} & {i["item_id"] for i in first["items"]}


def test_health_says_ready_only_after_a_real_turn():
    service = ChatService(tiny_bot(k=3))
    c = TestClient(create_app(service))
    r = c.get("/api/health")
    assert r.status_code == 503 and r.json()["status"] == "starting"
    assert service.self_test()
    r = c.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["artifacts"] == "ready"
    assert c.get("/healthz").json() == {"status": "alive"}


def test_a_failing_start_up_turn_is_reported():
    bot = tiny_bot(k=3)

    def broken(*args, **kwargs):
        raise ValueError("could not read index")
    bot.respond = broken
    service = ChatService(bot)
    assert not service.self_test()
    r = TestClient(create_app(service)).get("/api/health")
    assert r.status_code == 503 and r.json()["status"] == "failed"
    assert "could not read index" in r.json()["self_test_error"]
