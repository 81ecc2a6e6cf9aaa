"""The bad-input corpus (tests/data/bad_requests.jsonl, 500+ requests over every route):
no 5xx, every API error is {"error": ...}, nothing long is echoed, nosniff everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.service.server import build_app
from bot.service.chatservice import ChatService
from tests.helpers import tiny_bot

CORPUS = [json.loads(line) for line in
          (Path(__file__).parent / "data" / "bad_requests.jsonl").read_text().splitlines()]
PAD = "x" * 1000  # a padded value is 100,000 x's: any echo of it contains this


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 300
    assert len({c["path"] for c in CORPUS}) >= 15


@pytest.fixture(scope="module")
def server():
    service = ChatService(tiny_bot(k=3))
    service.self_test()
    client = TestClient(build_app(service), raise_server_exceptions=False)
    live = []
    for _ in range(2):
        r = client.post("/api/chat", json={"message": "a funny cartoon"}).json()
        live.append((r["session_id"], r["token"]))
    return client, live


def send(client, live, c: dict):
    (sid, token), (other, other_token) = live
    subs = {"$SID": sid, "$OTHER": other, "$PAD": "x" * c["pad"]}
    if c["body_hex"] is not None:
        body = bytes.fromhex(c["body_hex"])
        for k, v in subs.items():
            body = body.replace(k.encode(), v.encode())
    elif c["body"] is not None:
        body = c["body"]
        for k, v in subs.items():
            body = body.replace(k, v)
        body = body.encode("utf-8", "surrogatepass")
    else:
        body = None
    headers = dict(c["headers"])
    tokens = {"valid": token, "empty": "", "long": "t" * 10_000, "other": other_token, "wrong": "w" * 43}
    if c["token"] in tokens:
        headers["X-Session-Token"] = tokens[c["token"]]
    return client.request(c["method"], c["path"], content=body, headers=headers)


@pytest.mark.parametrize("c", CORPUS, ids=[c["name"] for c in CORPUS])
def test_bad_request(server, c):
    client, live = server
    r = send(client, live, c)
    assert r.status_code < 500, r.text[:300]
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert PAD not in r.text
    path = r.request.url.path  # as sent: "/api/../x" is normalised to "/x" by the client
    if (path.startswith("/api/") or path == "/healthz") and r.status_code >= 400:
        assert set(r.json()) == {"error"}, r.text[:300]
