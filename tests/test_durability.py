"""A server stopped without its shutdown hook in the middle of a conversation and started
again over the same files: the conversation continues exactly where it was, and the log
holds every turn that was acknowledged before the stop.

Twice: in process (the default suite: the app launch.py's `serve` builds, then a second one
over the same state and log files while the first is never closed), and as the real server
process (launch.py's `serve` over the tiny bot) killed with SIGKILL (marked slow: two
process starts)."""

from __future__ import annotations

from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.logbook import Logbook
from bot.service.chatservice import ChatService
from tests.helpers import free_port, launch_app, serve_process, tiny_bot

BEFORE = ["funny cartoon for kids", "I loved Toy Parade", "show me more"]
AFTER = ["show me more", "now a dark crime thriller"]


def ids(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def uninterrupted() -> list[list[str]]:
    """Every list the same conversation shows on a server that never stops."""
    c = TestClient(create_app(ChatService(tiny_bot(k=3))))
    first = c.post("/api/chat", json={"message": BEFORE[0]}).json()
    auth = {"X-Session-Token": first["token"]}
    lists = [ids(first)]
    for message in BEFORE[1:] + AFTER:
        lists.append(ids(c.post("/api/chat", json={"session_id": first["session_id"], "message": message},
                                headers=auth).json()))
    return lists


def continues_across_a_restart(folder, serve) -> None:
    """`serve()`: a context that yields an HTTP client of a server over `folder` and stops
    that server, without its shutdown hook, on the way out."""
    want = uninterrupted()
    got = []
    with serve() as client:
        r = client.post("/api/chat", json={"message": BEFORE[0]}).json()
        sid, auth = r["session_id"], {"X-Session-Token": r["token"]}
        got.append(ids(r))
        for message in BEFORE[1:]:
            got.append(ids(client.post("/api/chat", json={"session_id": sid, "message": message},
                                       headers=auth).json()))
    with Logbook(folder / "sessions.sqlite") as book:  # every acknowledged turn is in the log
        assert [len(s["turns"]) for s in book.sessions() if s["session_id"] == sid] == [len(BEFORE)]
    with serve() as client:  # the same files (and, for a process, the same address)
        for message in AFTER:
            r = client.post("/api/chat", json={"session_id": sid, "message": message}, headers=auth)
            assert r.status_code == 200, r.text
            got.append(ids(r.json()))
        stranger = client.post("/api/chat", json={"session_id": sid, "message": "x"})
        assert stranger.status_code == 403  # the token still guards it after the restart
    assert got == want
    with Logbook(folder / "sessions.sqlite") as book:
        turns = [t["turn_index"] for s in book.sessions() if s["session_id"] == sid for t in s["turns"]]
    assert turns == list(range(len(BEFORE) + len(AFTER)))  # no second turn 0 after the restart


def test_a_second_app_over_the_same_files_continues_the_conversation(tmp_path):
    @contextmanager
    def serve():
        yield TestClient(launch_app(tiny_bot(k=3), tmp_path))  # never closed: no shutdown hook runs

    continues_across_a_restart(tmp_path, serve)


@pytest.mark.slow
def test_kill_9_then_restart_continues_the_conversation(tmp_path):
    port = free_port()

    @contextmanager
    def serve():
        with serve_process(tmp_path, port=port) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            try:
                yield client
            finally:
                server.kill()  # SIGKILL: no shutdown hook runs

    continues_across_a_restart(tmp_path, serve)
