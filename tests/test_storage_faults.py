"""Storage faults are reported, never fatal (issue 33): a state store that cannot write is
a 503 with Retry-After, a logbook that cannot write costs the turn nothing, /api/health says
which is failing, and a -shm file changed under the server is an error, not a SIGBUS."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest
from fastapi.testclient import TestClient

import bot.service.sqlfile as sqlfile
from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.service.logbook import Logbook, LogbookError
from bot.service.logqueue import SafeLog
from bot.service.sessions import Sessions
from bot.service.store import SqliteStateStore, StateStoreError
from tests.helpers import tiny_bot, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def served(state: SqliteStateStore, log: Logbook | SafeLog | None = None) -> TestClient:
    service = ChatService(tiny_bot(k=3), log)
    assert service.self_test()
    return TestClient(create_app(service, Sessions(state)), raise_server_exceptions=False)


def test_a_read_only_state_store_is_503_and_health_says_so(tmp_path):
    state = SqliteStateStore(tmp_path / "state.sqlite")
    client = served(state)
    r = client.post("/api/chat", json={"message": "funny cartoon for kids"})
    sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
    assert client.get("/api/health").json()["storage"] == {"state": "ok", "logbook": "off"}
    state._db.execute("PRAGMA query_only = ON")  # SQLite's own "attempt to write a readonly database"
    r = client.post("/api/chat", json={"session_id": sid, "message": "show me more"}, headers=auth)
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert "session store cannot answer now" in r.json()["error"] and "readonly" in r.json()["error"]
    health = client.get("/api/health")
    assert health.status_code == 200  # alive and ready: the fault is reported, not fatal
    assert health.json()["storage"]["state"].startswith("error: ") and "readonly" in health.json()["storage"]["state"]
    state._db.execute("PRAGMA query_only = OFF")  # the operator fixed it: the same turn goes through
    r = client.post("/api/chat", json={"session_id": sid, "message": "show me more"}, headers=auth)
    assert r.status_code == 200
    assert client.get("/api/health").json()["storage"]["state"] == "ok"
    assert state.load(sid).version == 1  # the refused turn was not half-applied


def test_files_the_server_cannot_write_are_refused_at_open_and_shown_in_health(tmp_path, monkeypatch):
    """os.access stands in for a read-only file: the tests may run as root, who can write anything."""
    path = tmp_path / "state.sqlite"
    state = SqliteStateStore(path)
    assert state.health() == "ok"
    denied = {str(path)}
    real_access = os.access
    monkeypatch.setattr(sqlfile.os, "access", lambda p, mode: str(p) not in denied and real_access(p, mode))
    assert state.health() == f"error: {path} is read-only for this server: make it writable by the server's " \
                             "user, or pass another path"
    with pytest.raises(StateStoreError, match="read-only for this server"):
        SqliteStateStore(path)
    denied = {str(path) + "-shm"}
    with pytest.raises(LogbookError, match="state.sqlite-shm is read-only"):
        Logbook(path)
    denied = {str(tmp_path)}
    with pytest.raises(StateStoreError, match="folder .* is read-only"):
        SqliteStateStore(tmp_path / "other.sqlite")


def test_a_read_only_logbook_costs_the_turn_nothing_and_health_counts_what_was_dropped(tmp_path):
    book = Logbook(tmp_path / "log.sqlite", busy_timeout_s=0.1)
    log = SafeLog(book, capacity=2, retry_s=0.05)
    client = served(SqliteStateStore(tmp_path / "state.sqlite"), log)
    book._db.execute("PRAGMA query_only = ON")  # SQLite's own "attempt to write a readonly database"
    r = client.post("/api/chat", json={"message": "funny cartoon for kids"})
    assert r.status_code == 200 and r.json()["items"]  # answered, unlogged for now
    sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
    r = client.post("/api/chat", json={"session_id": sid, "message": "show me more"}, headers=auth)
    assert r.status_code == 200
    health = client.get("/api/health").json()
    line = health["storage"]["logbook"]
    assert line.startswith("error: ") and "readonly" in line and "2 writes waiting to be retried" in line
    # three writes (the session, two turns) into a queue of two: the oldest is dropped, and counted
    assert health["logbook"]["dropped"] == 1 and "1 dropped" in line
    assert health["storage"]["state"] == "ok"
    book._db.execute("PRAGMA query_only = OFF")  # writable again: the queue drains
    assert wait_for(lambda: log.health()["pending"] == 0)
    line = client.get("/api/health").json()["storage"]["logbook"]
    assert line.startswith("error: ") and "0 writes waiting" in line and "1 dropped" in line  # a loss stays visible


def test_a_full_logbook_queues_its_writes(tmp_path):
    book = Logbook(tmp_path / "log.sqlite", busy_timeout_s=0.1)
    log = SafeLog(book, retry_s=60)
    pages = book._db.execute("PRAGMA page_count").fetchone()[0]
    book._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    log.log_event("s", "big", {"text": "x" * 20_000})  # needs pages the file may not have
    h = log.health()
    assert (h["state"], h["pending"]) == ("degraded", 1) and "full" in h["last_error"]
    book._db.execute("PRAGMA max_page_count = 1073741823")
    assert log.flush() and book.table_counts()["events"] == 1


def test_health_never_waits_on_a_store_or_a_log_write(tmp_path):
    state = SqliteStateStore(tmp_path / "state.sqlite")
    log = SafeLog(Logbook(tmp_path / "log.sqlite"))
    client = served(state, log)
    got: list = []
    with state._lock, log._lock:  # a turn's write holds both for as long as the file makes it wait
        t = threading.Thread(target=lambda: got.append(client.get("/api/health")), daemon=True)
        t.start()
        t.join(timeout=5)
    assert got and got[0].status_code == 200 and got[0].json()["storage"] == {"state": "ok", "logbook": "ok"}


def test_a_deleted_shm_is_a_503_not_a_second_wal_index(tmp_path):
    path = tmp_path / "state.sqlite"
    state = SqliteStateStore(path)
    client = served(state)
    r = client.post("/api/chat", json={"message": "funny cartoon for kids"})
    sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
    os.remove(f"{path}-shm")  # another process opening the file now would build a second index
    r = client.post("/api/chat", json={"session_id": sid, "message": "show me more"}, headers=auth)
    assert r.status_code == 503 and "deleted or replaced" in r.json()["error"]
    assert "restart the server" in client.get("/api/health").json()["storage"]["state"]


# Run apart: without the guard, touching a -shm that shrank under the mapping is a SIGBUS,
# which would end the test session itself instead of failing one test.
SHRUNK_SHM = textwrap.dedent("""
    import os, sys
    from bot.conversation.state import Session
    from bot.service.logbook import Logbook
    from bot.service.store import SqliteStateStore, StoredSession

    folder = sys.argv[1]
    state, book = SqliteStateStore(folder + "/state.sqlite"), Logbook(folder + "/log.sqlite")
    state.create(StoredSession(Session("s"), "h" * 64, 0))
    for i in range(50):
        book.log_event("s", "e", {"i": i})
    for name in ("state.sqlite-shm", "log.sqlite-shm"):  # rewritten empty, as an audit did
        with open(os.path.join(folder, name), "w"):
            pass
    print("saved", state.save(Session("s", "u1"), 0))
    print("loaded", state.load("s").session.user_id)
    book.log_event("s", "after", {})
    print("logged", book.table_counts()["events"])
    print("restored", state._watch.restored, book._watch.restored)
    state.close()
    book.close()
""")


def test_a_shm_that_shrank_under_the_server_is_restored_not_a_sigbus(tmp_path):
    run = subprocess.run([sys.executable, "-c", SHRUNK_SHM, str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode} (-7 is SIGBUS): {run.stderr[-2000:]}"
    assert run.stdout.split("\n")[:4] == ["saved 1", "loaded u1", "logged 51", "restored 1 1"], run.stdout
    assert "shrank from" in run.stderr  # and the server log says so
