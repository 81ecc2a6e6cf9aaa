"""The running app, as a person or a pilot meets it: launch.py on a free port, the real
MovieLens catalog and the real base encoder, a scripted two-turn conversation over HTTP
and through gradio_client."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    pytest.importorskip("pandas", reason="the embedded catalog needs the demo extra")
    port = free_port()
    artifacts = tmp_path_factory.mktemp("artifacts")
    log = (artifacts / "launch.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "launch.py", "--port", str(port), "--artifacts", str(artifacts),
         "--no-finetune", "--log-db", str(artifacts / "sessions.sqlite"),
         "--state-db", str(artifacts / "state.sqlite")],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600  # first run encodes 9,066 movies: ~40 s on 2 idle cores
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"launch.py exited {proc.returncode}:\n{(artifacts / 'launch.log').read_text()}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail("launch.py did not come up within 600 s")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


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
    lists, body, headers = [], {"user_id": None}, {}
    for message in TURNS:
        r = httpx.post(f"{app_url}/api/chat", json={**body, "message": message}, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        lists.append(r.json()["items"])
        if not headers:  # the first answer issues the session
            body, headers = {"session_id": r.json()["session_id"]}, {"X-Session-Token": r.json()["token"]}
    check_turns(lists)
    bad = httpx.post(f"{app_url}/api/chat", json={**body, "message": ""}, headers=headers, timeout=60)
    assert bad.status_code == 400 and "error" in bad.json()


def test_two_turns_through_gradio_client(app_url):
    from gradio_client import Client

    client = Client(app_url + "/", verbose=False)
    history: list = []
    lists = []
    for message in TURNS:
        history, _, items = client.predict(message, "", True, 0.7, history, api_name="/chat")
        lists.append(items)
        assert history[-1]["role"] == "assistant"
    check_turns(lists)
    assert len(history) == 4


def test_known_user_gets_cf_reasons(app_url):
    r = httpx.post(f"{app_url}/api/chat", json={"message": "a classic war movie", "user_id": "15"}, timeout=60)
    assert r.status_code == 200
    items = r.json()["items"]
    assert any("which you rated highly" in i["reason"] for i in items)
