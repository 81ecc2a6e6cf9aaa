"""A first build over a fresh artifact folder answers from a quick pipeline, then swaps in
the full one (launch.py quick_bot, bot/service/upgrade.py): launch.py as a process, on the
36-movie fixture catalog with its ratings and the packaged encoder (seconds, not the
minutes of MovieLens: `python -m benchmarks.first_answer` times that)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers import DATA, chat_over_http, serve_process

pytestmark = pytest.mark.slow

MOVIES = DATA / "movies"


def test_a_first_build_answers_from_the_quick_pipeline_then_from_the_full_one(tmp_path):
    artifacts = tmp_path / "artifacts"
    flags = ("--catalog", str(MOVIES / "movies.csv"), "--interactions", str(MOVIES / "ratings.csv"),
             "--artifacts", str(artifacts), "--no-log")
    with serve_process(tmp_path, *flags, entry=("launch.py",), timeout_s=300) as server:
        assert chat_over_http(server.url, ["a funny movie"])[0]["items"]  # answered, whichever pipeline
        deadline = time.monotonic() + 120
        while (pipeline := httpx.get(f"{server.url}/api/health", timeout=30).json()["pipeline"])["state"] != "full":
            assert "error" not in pipeline and time.monotonic() < deadline, pipeline
            time.sleep(0.5)
        assert pipeline["swapped_after_s"] >= 0
        assert chat_over_http(server.url, ["a funny movie"])[0]["items"]
        log = server.log.read_text()
        assert "a quick pipeline answers while the full one builds" in log and "now answers" in log
        assert (artifacts / "manifest.json").exists() and not (artifacts / "quick").exists()
    # built: a second start serves the full pipeline from the start
    with serve_process(tmp_path, *flags, entry=("launch.py",), timeout_s=300) as server:
        assert httpx.get(f"{server.url}/api/health", timeout=30).json()["pipeline"] == {"state": "full"}
        assert "quick pipeline" not in server.log.read_text()
