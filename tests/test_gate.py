"""The turn gate: never more than `limit` turns at once, a bounded queue, Busy beyond it,
shared by the API and the chat."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from bot.service.api import create_app
from bot.service.gate import Busy, TurnGate, thread_budget
from bot.service.chatservice import ChatService
from tests.helpers import tiny_bot


def test_turns_in_flight_never_exceed_the_limit_and_the_queue_is_bounded():
    gate = TurnGate(limit=2, queue=3, wait_s=5)
    release = threading.Event()
    results: list[str] = []

    def work():
        try:
            with gate.turn():
                release.wait(5)
            results.append("done")
        except Busy as e:
            results.append(f"busy {e.retry_after}")

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(work) for _ in range(10)]
        deadline = time.monotonic() + 5
        while gate.stats().active + gate.stats().waiting < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the other five have been turned away by now
        busy = sum(r.startswith("busy") for r in results)
        stats = gate.stats()
        release.set()
        for f in futures:
            f.result()
    assert (stats.active, stats.waiting, busy) == (2, 3, 5)
    assert results.count("done") == 5 and gate.stats().peak_active == 2 and gate.stats().rejected == 5
    assert all(int(r.split()[1]) >= 1 for r in results if r.startswith("busy"))


def test_a_wait_past_the_budget_is_busy():
    gate = TurnGate(limit=1, queue=5, wait_s=0.05)
    with gate.turn():
        with pytest.raises(Busy):
            with gate.turn():
                pass
    with gate.turn():  # free again
        pass


def test_api_answers_503_with_retry_after_when_full():
    gate = TurnGate(limit=1, queue=0)
    client = TestClient(create_app(ChatService(tiny_bot(k=3), gate=gate)))
    with gate.turn():  # someone else's turn (e.g. the chat) holds the only slot
        r = client.post("/api/chat", json={"message": "cartoon"})
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1 and "busy" in r.json()["error"]
    assert client.post("/api/chat", json={"message": "cartoon"}).status_code == 200


@pytest.mark.parametrize("limit, cores, want", [(1, 2, 2), (2, 2, 1), (4, 2, 1), (2, 16, 8)])
def test_thread_budget_fits_the_cores(limit, cores, want):
    assert thread_budget(limit, cores) == want
