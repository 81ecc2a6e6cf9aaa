"""Slow headers are cut off; a normal request on the same server is unaffected."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx

from bot.service.slowloris import HeaderTimeoutH11
from tests.helpers import serve_app


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Quick(HeaderTimeoutH11):
    header_timeout_s = 0.5


def test_slow_headers_are_closed_and_normal_requests_answer():
    with serve_app(app, http=Quick) as url:
        assert httpx.get(f"{url}/", timeout=1).text == "ok"
        with socket.create_connection(("127.0.0.1", urlsplit(url).port), timeout=5) as slow:
            start = time.monotonic()
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            closed = False
            for _ in range(40):  # a header byte every 0.1 s: keeps a plain uvicorn busy forever
                try:
                    slow.sendall(b"X")
                except OSError:
                    closed = True
                    break
                time.sleep(0.1)
            if not closed:
                slow.settimeout(2)
                closed = slow.recv(1024) == b""
            assert closed and time.monotonic() - start < 3.0
        with httpx.Client() as c:  # keep-alive: a second request after the first still answers
            assert c.get(f"{url}/").text == "ok"
            time.sleep(0.8)  # longer than the header budget, but idle between requests
            assert c.get(f"{url}/").text == "ok"
