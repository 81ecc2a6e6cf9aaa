"""The running app, as a person or a pilot meets it: launch.py on a free port, the real
MovieLens catalog and the real base encoder, a scripted two-turn conversation over HTTP
and through gradio_client."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
TURNS = ("I'd like a funny animated movie for kids", "now something darker for adults, no cartoons")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(args: list[str], folder: Path, timeout_s: float, entry: tuple[str, ...] = ("launch.py",),
            env: dict[str, str] | None = None):
    """launch.py (or `entry`, e.g. ("-m", "tests.tiny_server"), which takes its flags) with
    `args` on a free port, its output in `folder`/launch.log; yields its URL once
    /api/health answers 200, and stops it afterwards."""
    port = free_port()
    log = (folder / "launch.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, *entry, "--port", str(port), "--log-db", str(folder / "sessions.sqlite"),
         "--state-db", str(folder / "state.sqlite"), *args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"launch.py exited {proc.returncode}:\n{(folder / 'launch.log').read_text()}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(f"launch.py {' '.join(args)} did not come up within {timeout_s:.0f} s")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def chat_over_http(url: str, messages, user_id: str | None = None) -> list[dict]:
    """One issued session through POST /api/chat; the answers, in order."""
    answers, body, headers = [], {"user_id": user_id}, {}
    for message in messages:
        r = httpx.post(f"{url}/api/chat", json={**body, "message": message}, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        answers.append(r.json())
        if not headers:  # the first answer issues the session
            body, headers = {"session_id": r.json()["session_id"]}, {"X-Session-Token": r.json()["token"]}
    return answers


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    pytest.importorskip("pandas", reason="the embedded catalog needs the demo extra")
    artifacts = tmp_path_factory.mktemp("artifacts")
    # first run encodes 9,061 movies: ~40 s on 2 idle cores
    with running(["--artifacts", str(artifacts), "--no-finetune"], artifacts, 600) as url:
        yield url


def check_turns(lists: list[list[dict]], catalog_titles: set[str] | None = None) -> None:
    first, second = lists
    for items in lists:
        ids = [i["item_id"] for i in items]
        assert len(set(ids)) >= 5 and len(ids) == len(set(ids))
        assert all(i["reason"].strip() for i in items)
    assert not {i["item_id"] for i in first} & {i["item_id"] for i in second}
    # turn 1 was heard: kids' animation; turn 2 too: no animation, and it took over
    assert sum("Animation" in i["genres"] for i in first) >= 5
    assert not any("Animation" in i["genres"] for i in second)
    assert not any("Children" in i["genres"] for i in second)  # "for adults"
    dark = {"Thriller", "Crime", "Horror", "Mystery", "Film-Noir"}
    assert sum(bool(dark & set(i["genres"])) for i in second) >= 5


def test_two_turns_over_http(app_url):
    answers = chat_over_http(app_url, TURNS)
    check_turns([a["items"] for a in answers])
    body, headers = {"session_id": answers[0]["session_id"]}, {"X-Session-Token": answers[0]["token"]}
    bad = httpx.post(f"{app_url}/api/chat", json={**body, "message": ""}, headers=headers, timeout=60)
    assert bad.status_code == 400 and "error" in bad.json()


def chat_through_gradio(url: str, messages) -> tuple[list, list]:
    """One conversation through the Gradio chat endpoint: (history, the lists shown)."""
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    history: list = []
    lists = []
    for message in messages:
        history, _, items = client.predict(message, "", True, 0.7, history, api_name="/chat")
        lists.append(items)
        assert history[-1]["role"] == "assistant"
    return history, lists


def test_two_turns_through_gradio_client(app_url):
    history, lists = chat_through_gradio(app_url, TURNS)
    check_turns(lists)
    assert len(history) == 4


def test_known_user_gets_cf_reasons(app_url):
    r = httpx.post(f"{app_url}/api/chat", json={"message": "a classic war movie", "user_id": "15"}, timeout=60)
    assert r.status_code == 200
    items = r.json()["items"]
    assert any("highly, as you did" in i["reason"] for i in items)
