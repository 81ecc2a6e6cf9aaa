"""A quick pipeline answers while the full one builds, then the full one is swapped in
(bot/service/upgrade.py): what a first `make run` does."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.service.upgrade import PipelineUpgrade
from tests.helpers import tiny_bot


def ask(client: TestClient, message: str = "funny cartoon") -> dict:
    r = client.post("/api/chat", json={"message": message})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_quick_pipeline_answers_while_the_full_one_builds_then_the_full_one_answers():
    quick, full = tiny_bot(k=2), tiny_bot(k=4)  # told apart by the length of their lists
    service = ChatService(quick)
    assert service.self_test()
    client = TestClient(create_app(service))
    release, ran_then = threading.Event(), []

    def build():
        release.wait(10)
        return full

    upgrade = PipelineUpgrade(service, build, "the full one", then=lambda: ran_then.append(True)).start()
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["pipeline"]["state"] == "quick"
    assert health["pipeline"]["building"] == "the full one"
    assert len(ask(client)["items"]) == 2  # answered at once, by the quick pipeline
    assert not ran_then
    release.set()
    assert upgrade.wait(10)
    health = client.get("/api/health").json()
    assert health["pipeline"]["state"] == "full" and health["pipeline"]["swapped_after_s"] >= 0
    assert service.bot is full and len(ask(client)["items"]) == 4
    assert ran_then == [True]


def test_a_failed_build_or_probe_leaves_the_quick_pipeline_serving_and_says_why():
    quick = tiny_bot(k=2)

    def broken():
        raise OSError("disk full")

    for build, why in ((broken, "OSError: disk full"),
                       (lambda: tiny_bot(k=0), "its first turn failed")):  # lists nothing: refused
        service = ChatService(quick)
        ran_then = []
        assert PipelineUpgrade(service, build, "the full one", then=lambda: ran_then.append(True)).start().wait(10)
        assert service.bot is quick and ran_then == [True]
        health = TestClient(create_app(service)).get("/api/health").json()
        assert health["pipeline"]["state"] == "quick" and why in health["pipeline"]["error"]
        assert len(ask(TestClient(create_app(service)))["items"]) == 2


def test_a_service_built_whole_says_the_full_pipeline_answers():
    service = ChatService(tiny_bot(k=2))
    assert TestClient(create_app(service)).get("/api/health").json()["pipeline"] == {"state": "full"}
