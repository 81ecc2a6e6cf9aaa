"""The real server process (launch.py's `serve` over the tiny bot), killed with SIGKILL in
the middle of a conversation and started again: the conversation continues exactly where
it was, and the log holds every turn that was acknowledged before the kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.logbook import Logbook
from bot.service.chatservice import ChatService
from tests.helpers import tiny_bot

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ["funny cartoon for kids", "I loved Toy Parade", "show me more"]
AFTER = ["show me more", "now a dark crime thriller"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, port: int, *flags: str) -> subprocess.Popen:
    log = (tmp / f"server-{time.monotonic_ns()}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tiny_server", "--port", str(port), "--log-db", str(tmp / "log.sqlite"),
         "--state-db", str(tmp / "state.sqlite"), *flags],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120  # imports torch and gradio: ~10 s on 2 busy cores
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited {proc.returncode}: {Path(log.name).read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("server did not become ready within 120 s")


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


def test_kill_9_then_restart_continues_the_conversation(tmp_path):
    want = uninterrupted()
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/chat"
    proc = start_server(tmp_path, port)
    got = []
    try:
        r = httpx.post(url, json={"message": BEFORE[0]}, timeout=30).json()
        sid, auth = r["session_id"], {"X-Session-Token": r["token"]}
        got.append(ids(r))
        for message in BEFORE[1:]:
            got.append(ids(httpx.post(url, json={"session_id": sid, "message": message}, headers=auth,
                                      timeout=30).json()))
    finally:
        proc.send_signal(signal.SIGKILL)  # no shutdown hook runs
        proc.wait(timeout=30)
    with Logbook(tmp_path / "log.sqlite") as book:  # every acknowledged turn is in the log
        assert [len(s["turns"]) for s in book.sessions() if s["session_id"] == sid] == [len(BEFORE)]
    proc = start_server(tmp_path, port)
    try:
        for message in AFTER:
            r = httpx.post(url, json={"session_id": sid, "message": message}, headers=auth, timeout=30)
            assert r.status_code == 200, r.text
            got.append(ids(r.json()))
        stranger = httpx.post(url, json={"session_id": sid, "message": "x"}, timeout=30)
        assert stranger.status_code == 403  # the token still guards it after the restart
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert got == want
    with Logbook(tmp_path / "log.sqlite") as book:
        turns = [t["turn_index"] for s in book.sessions() if s["session_id"] == sid for t in s["turns"]]
    assert turns == list(range(len(BEFORE) + len(AFTER)))  # no second turn 0 after the restart
