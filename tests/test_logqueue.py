"""A logbook that is locked or failing never breaks a turn: writes queue, in order, and
land once the file is free; /api/health says so meanwhile."""

from __future__ import annotations

import sqlite3
import time

from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.logbook import Logbook
from bot.service.logqueue import SafeLog
from bot.service.chatservice import ChatService
from tests.helpers import tiny_bot, wait_for


def test_turns_answer_while_another_process_holds_the_log(tmp_path):
    path = tmp_path / "log.sqlite"
    book = Logbook(path, busy_timeout_s=0.1)
    service = ChatService(tiny_bot(k=3), book)
    service.self_test()
    client = TestClient(create_app(service))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # like an export holding the write lock
    try:
        r = client.post("/api/chat", json={"message": "funny cartoon for kids"})
        assert r.status_code == 200 and r.json()["items"]
        sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
        start = time.monotonic()
        r = client.post("/api/chat", json={"session_id": sid, "message": "show me more"}, headers=auth)
        assert r.status_code == 200 and time.monotonic() - start < 2.0  # queued, not waited for
        health = client.get("/api/health").json()["logbook"]
        assert health["state"] == "degraded" and health["pending"] >= 2 and "locked" in health["last_error"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert wait_for(lambda: service.logbook.health()["pending"] == 0)
    assert client.get("/api/health").json()["logbook"]["state"] == "ok"
    turns = [t["turn_index"] for s in book.sessions() if s["session_id"] == sid for t in s["turns"]]
    assert turns == [0, 1]  # both landed, in order


def test_the_queue_is_bounded(tmp_path):
    class Broken:
        def log_event(self, *args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

    log = SafeLog(Broken(), capacity=3, retry_s=60)
    for i in range(5):
        log.log_event("s", "e", {"i": i})
    h = log.health()
    assert (h["state"], h["pending"], h["dropped"]) == ("degraded", 3, 2)
