"""The guard in front of every route: auth everywhere but /healthz, throttled logins,
body caps and timeouts, 404/405 as JSON, no uploads, nosniff."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from bot.service.guard import Guard, LoginThrottle
from bot.service.server import build_app
from bot.service.chatservice import ChatService
from tests.helpers import tiny_bot

CREDS = ("pilot", "s3cret")


@pytest.fixture(scope="module")
def service():
    s = ChatService(tiny_bot(k=3))
    s.self_test()
    return s


@pytest.fixture(scope="module")
def open_client(service):
    return TestClient(build_app(service), raise_server_exceptions=False)


@pytest.fixture
def locked(service):
    throttle = LoginThrottle(max_failures=3, window_s=60)
    return TestClient(build_app(service, credentials=CREDS, throttle=throttle), raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/docs", "/api/openapi.json", "/gradio_api/info",
                                  "/config", "/gradio_api/openapi.json"])
def test_every_route_but_healthz_needs_credentials(locked, path):
    r = locked.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert r.json() == {"error": "credentials required"}
    assert locked.get(path, auth=CREDS).status_code in (200, 404)  # past the guard
    assert locked.get("/healthz").json() == {"status": "alive"}


def test_api_works_with_credentials(locked):
    r = locked.post("/api/chat", json={"message": "cartoon"}, auth=CREDS)
    assert r.status_code == 200 and r.json()["items"]
    assert locked.post("/api/chat", json={"message": "cartoon"}, auth=("pilot", "wrong")).status_code == 401


def test_failed_logins_are_throttled_per_client(locked):
    codes = [locked.get("/api/health", auth=("pilot", f"guess{i}")).status_code for i in range(5)]
    assert codes == [401, 401, 429, 429, 429]  # the third failure closes the window
    r = locked.get("/api/health", auth=CREDS)  # even the right password waits out the window
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "error" in r.json()


def test_wrong_method_is_405_and_unknown_api_path_404(open_client):
    r = open_client.get("/api/chat")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "error" in r.json()
    r = open_client.post("/api/health")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    r = open_client.get("/api/nothing-here")
    assert r.status_code == 404 and "error" in r.json()


def test_json_bodies_are_capped(open_client):
    big = b'{"message": "' + b"x" * 70_000 + b'"}'
    r = open_client.post("/api/chat", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"x" * 1024
    r = open_client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_uploads_are_refused(open_client):
    r = open_client.post("/gradio_api/upload", files={"files": ("a.txt", b"hello")})
    assert r.status_code == 403 and "uploads are disabled" in r.json()["error"]


def test_responses_carry_nosniff(open_client):
    for r in (open_client.get("/api/health"), open_client.post("/api/chat", json={"message": 5}),
              open_client.get("/"), open_client.get("/api/nothing")):
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("body, want", [
    (b"\xff\xfe{}", 422), (b'{"message": "\xff"}', 400),  # a UTF-16 mark; invalid UTF-8
    (b"[" * 100_000 + b"]" * 100_000, 413), (b"[" * 20_000 + b"]" * 20_000, 400),  # too deep to parse
    (b'{"message": "\\ud800"}', 422),
])
def test_odd_bodies_are_json_errors(open_client, body, want):
    r = open_client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert r.status_code == want, r.text
    assert set(r.json()) == {"error"}


def test_a_body_sent_too_slowly_is_408():
    async def app(scope, receive, send):  # never reached
        raise AssertionError("the guard let a stalled body through")

    guard = Guard(app, lambda: {"/api/chat": {"POST"}}, body_timeout_s=0.2)
    sent = []

    async def receive():
        await asyncio.sleep(10)  # the client stalls mid-body

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": [(b"content-length", b"10")]}
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 408


def test_healthz_answers_head(open_client, locked):
    for client in (open_client, locked):
        r = client.head("/healthz")
        assert r.status_code == 200 and r.content == b""


def test_a_forged_x_forwarded_for_neither_escapes_nor_blames_the_throttle(service):
    """Served with launch.py's own uvicorn options: without --trusted-proxies the throttle
    counts failures under the socket's address, whatever X-Forwarded-For says; with the
    client's proxy trusted, under the address the proxy forwards."""
    import httpx

    import launch
    from tests.helpers import serve_app

    def guesses(options: dict) -> list[int]:
        app = build_app(service, credentials=CREDS, throttle=LoginThrottle(max_failures=3, window_s=60))
        with serve_app(app, **options) as url:
            return [httpx.get(f"{url}/api/health", auth=("pilot", f"guess{i}"),
                              headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]

    assert guesses(launch.server_options()) == [401, 401, 429, 429]  # one client: 127.0.0.1
    assert guesses(launch.server_options("127.0.0.1")) == [401, 401, 401, 401]  # four forwarded clients


def test_headers_over_16_kb_are_refused_whatever_the_route(open_client, locked):
    big = {"X-Filler": "x" * 70_000}
    for client, path in ((open_client, "/api/health"), (open_client, "/"), (locked, "/healthz")):
        r = client.get(path, headers=big)
        assert r.status_code == 431 and r.json() == {"error": "request headers over 16 KB"}
    assert open_client.get("/api/health", headers={"X-Filler": "x" * 8_000}).status_code in (200, 503)
