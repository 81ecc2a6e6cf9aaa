"""Connections and event streams a client may hold (issue 33 part 2), over a real uvicorn:
past its share, one more connection from the same address is closed at once and one more
event stream is 429 + Retry-After, while other routes keep answering."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from bot.service.guard import Guard
from bot.service.slowloris import connection_protocol
from tests.helpers import serve_app

OPEN_STREAMS = {"now": 0}  # event streams the app is writing at this moment


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":  # an endless event stream, as Gradio's queue and heartbeat
        OPEN_STREAMS["now"] += 1
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            while True:  # until the client goes, as Starlette's StreamingResponse
                await send({"type": "http.response.body", "body": b"data: tick\n\n", "more_body": True})
                try:
                    if (await asyncio.wait_for(receive(), 0.05))["type"] == "http.disconnect":
                        return
                except asyncio.TimeoutError:
                    pass
        finally:
            OPEN_STREAMS["now"] -= 1
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def hold_stream(url: str, stop: threading.Event, status: list[int]) -> None:
    with httpx.Client(timeout=10) as c, c.stream("GET", f"{url}/stream") as r:
        status.append(r.status_code)
        for _ in r.iter_bytes():
            if stop.is_set():
                break


def test_one_stream_past_the_clients_limit_is_refused_and_stopped():
    guarded = Guard(app, routes=lambda: {"/healthz": {"GET"}}, stream_limit=2)
    with serve_app(guarded) as url:
        stop, statuses = threading.Event(), []
        holders = [threading.Thread(target=hold_stream, args=(url, stop, statuses)) for _ in range(2)]
        for t in holders:
            t.start()
        deadline = time.monotonic() + 10
        while guarded.streams.get("127.0.0.1", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert statuses == [200, 200] and guarded.streams["127.0.0.1"] == 2
        third = httpx.get(f"{url}/stream", timeout=5)
        assert third.status_code == 429 and third.headers["retry-after"] == "5"
        assert "too many open event streams" in third.json()["error"]
        time.sleep(0.2)
        assert OPEN_STREAMS["now"] == 2  # the refused stream stopped; the two held go on
        assert httpx.get(f"{url}/other", timeout=5).text == "ok"  # other routes answer
        stop.set()
        for t in holders:
            t.join(timeout=10)
        deadline = time.monotonic() + 10
        while guarded.streams and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not guarded.streams  # closed streams are no longer counted
        statuses.clear()
        stop.clear()
        again = threading.Thread(target=hold_stream, args=(url, stop, statuses))
        again.start()
        deadline = time.monotonic() + 10
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        again.join(timeout=10)
        assert statuses == [200]


def idle_sockets(url: str, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", urlsplit(url).port), timeout=5) for _ in range(n)]


def closed_by_server(s: socket.socket) -> bool:
    s.settimeout(2)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_one_connection_past_the_clients_share_is_closed_at_once():
    with serve_app(app, http=connection_protocol(per_client=4)) as url:
        time.sleep(0.5)  # the start-up health poll's connection is gone
        held = idle_sockets(url, 4)  # open, never a byte: what 300 of them did to every route
        try:
            time.sleep(0.2)
            [extra] = idle_sockets(url, 1)
            assert closed_by_server(extra)
            extra.close()
            with pytest.raises(httpx.HTTPError):  # this address has no connection left
                httpx.get(f"{url}/", timeout=2)
            assert not closed_by_server(held[0])  # the held ones stay until their header timeout
        finally:
            for s in held:
                s.close()
        deadline = time.monotonic() + 5
        while True:  # their slots come back as they close
            try:
                assert httpx.get(f"{url}/", timeout=2).text == "ok"
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def test_a_trusted_proxy_is_not_held_to_one_clients_share():
    with serve_app(app, http=connection_protocol("127.0.0.1", per_client=1)) as url:
        held = idle_sockets(url, 3)
        try:
            assert httpx.get(f"{url}/", timeout=2).text == "ok"
        finally:
            for s in held:
                s.close()


def test_a_share_needs_one_connection_at_least():
    with pytest.raises(ValueError):
        connection_protocol(per_client=0)


async def leaky(scope, receive, send):
    """An app whose server errors say too much, as Gradio's did (object reprs, addresses)."""
    if scope["type"] != "http":
        return
    status = 503 if scope["path"] == "/api/busy" else 500
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"<gradio.blocks.Blocks object at 0x7f3a2c>", "more_body": True})
    await send({"type": "http.response.body", "body": b" Traceback ..."})


def test_server_errors_outside_the_api_carry_no_internals():
    from starlette.testclient import TestClient

    client = TestClient(Guard(leaky, routes=lambda: {"/api/busy": {"GET"}}))
    r = client.get("/gradio_api/queue/join")
    assert r.status_code == 500 and r.json() == {"error": "internal error: the server could not answer this "
                                                          "request (details are in its log)"}
    assert "0x7f" not in r.text and "object at" not in r.text
    assert client.get("/api/busy").status_code == 503  # the API's own errors are its own: kept
