"""The server's front door, for every route (API, docs, Gradio): credentials, limits, headers.

`Guard` is plain ASGI middleware placed around the whole app. In order, per request:
1. With credentials set, every route but a bare liveness `/healthz` needs HTTP Basic
   auth; a client (by address) that fails `LoginThrottle.max_failures` times within
   `window_s` is answered 429 + Retry-After until the window has passed.
2. Uploads are refused (403): the chat needs none, and they were the way to push 200 MB.
3. Under `/api/`: an unknown path is 404 and a known path with the wrong method is 405
   with `Allow`, both as {"error": ...} (Gradio, mounted at `/`, would say 404).
4. Request bodies are read here, capped (`json_limit` under /api, `body_limit` elsewhere:
   413) and timed (`body_timeout_s` for the whole body: 408), then replayed to the app.
5. Every response gets `X-Content-Type-Options: nosniff`.
6. Server errors outside /api/ (Gradio's routes) are answered with a plain
   `{"error": "internal error: ..."}`: the app's own 500 bodies may carry internals.
7. A client (by address) holds at most `stream_limit` event streams (responses of type
   text/event-stream: the chat page's queue and heartbeat) at once; one more is answered
   429 + Retry-After instead, and the app's stream is stopped. 255 open streams used to
   exhaust the server's connections for everyone.
Headers over HEADER_LIMIT bytes in all are refused (431) before anything else: h11 caps only
headers that arrive in pieces (16 KB), so 70 KB sent at once used to pass. Their read time is
capped by bot/service/slowloris.py.

What this module does NOT know: sessions, turns, gradio's internals.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import secrets
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_LIMIT = 64 * 1024  # a chat message is at most 10,000 characters: 64 KB is plenty
BODY_LIMIT = 1024 * 1024  # Gradio's own JSON calls (queue joins) are small too
BODY_TIMEOUT_S = 10.0  # a whole body, however slowly sent; then 408
LIVENESS = "/healthz"
HEADER_LIMIT = 16 * 1024  # names and values of all request headers together
STREAM_LIMIT = 8  # event streams one address may hold open: a chat tab holds one or two
STREAM_RETRY_S = 5


class LoginThrottle:
    """Failed logins per client address: `max_failures` within `window_s` blocks it for the
    rest of the window. At most `capacity` addresses are remembered (oldest dropped)."""

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, capacity: int = 10_000) -> None:
        self.max_failures, self.window_s, self.capacity = max_failures, window_s, capacity
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def blocked_for(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)


def basic_ok(header: bytes | None, credentials: tuple[str, str]) -> bool:
    if not header or not header.lower().startswith(b"basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user.encode(), credentials[0].encode()) & \
        secrets.compare_digest(password.encode(), credentials[1].encode())


async def respond(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"x-content-type-options", b"nosniff")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp, routes: Callable[[], dict[str, set[str]]],
                 credentials: tuple[str, str] | None = None, throttle: LoginThrottle | None = None,
                 json_limit: int = JSON_LIMIT, body_limit: int = BODY_LIMIT,
                 body_timeout_s: float = BODY_TIMEOUT_S,
                 body_limits: dict[str, Callable[[dict[bytes, bytes]], int | None]] | None = None,
                 stream_limit: int = STREAM_LIMIT) -> None:
        """`routes()`: path -> allowed methods of the JSON API (read on first use).
        `body_limits`: path prefix -> the body limit of a request there, from its headers
        (None: the usual one); the admin route's, larger with the admin token only."""
        self.app, self._routes, self.credentials = app, routes, credentials
        self.body_limits = body_limits or {}
        self.throttle = throttle or LoginThrottle()
        self.json_limit, self.body_limit, self.body_timeout_s = json_limit, body_limit, body_timeout_s
        self._methods: dict[str, set[str]] | None = None
        self.stream_limit = stream_limit
        self.streams: Counter[str] = Counter()  # client address -> event streams open now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw_headers = scope.get("headers") or []
        if sum(len(k) + len(v) for k, v in raw_headers) > HEADER_LIMIT:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1009})
            return await respond(send, 431, f"request headers over {HEADER_LIMIT // 1024} KB")
        headers = dict(raw_headers)
        path = scope.get("path", "")
        if self.credentials is not None and path != LIVENESS:
            client = _client(scope)
            wait = self.throttle.blocked_for(client)
            if wait or not basic_ok(headers.get(b"authorization"), self.credentials):
                if not wait and b"authorization" in headers:
                    self.throttle.failed(client)
                    wait = self.throttle.blocked_for(client)
                if scope["type"] == "websocket":
                    return await send({"type": "websocket.close", "code": 1008})
                if wait:
                    return await respond(send, 429, f"too many failed logins: try again in {wait} s",
                                         {"Retry-After": str(wait)})
                return await respond(send, 401, "credentials required",
                                     {"WWW-Authenticate": 'Basic realm="convrec"'})
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        if path.rstrip("/").endswith("/upload"):
            return await respond(send, 403, "uploads are disabled: the chat needs none")
        is_api = path.startswith("/api/") or path == LIVENESS
        method = scope["method"]
        if is_api:
            if self._methods is None:
                self._methods = self._routes()
            allowed = self._methods.get(path)
            if allowed is None:
                return await respond(send, 404, "no such route: see /api/docs")
            if method not in allowed and not (method == "HEAD" and "GET" in allowed):
                return await respond(send, 405, f"use {' or '.join(sorted(allowed))} here",
                                     {"Allow": ", ".join(sorted(allowed))})
        if method in ("POST", "PUT", "PATCH"):
            limit = self.json_limit if is_api else self.body_limit
            for prefix, limit_of in self.body_limits.items():
                if path.startswith(prefix):
                    limit = limit_of(headers) or limit
            try:
                declared = int(headers.get(b"content-length", b"0"))
            except ValueError:
                return await respond(send, 400, "Content-Length must be a number")
            if declared > limit:
                return await respond(send, 413, f"request body over {limit} bytes")
            body = await self._read(receive, limit)
            if isinstance(body, int):
                return await respond(send, body, "request body over the limit" if body == 413
                                     else f"request body not received within {self.body_timeout_s:g} s")
            receive = _replay(body, receive)
        await self._serve(scope, receive, _nosniff(send))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, with its event streams counted per client and refused past the limit, and
        its server errors outside /api/ (Gradio's, whose bodies may carry object reprs and
        addresses) replaced by a plain {"error": ...}."""
        client = _client(scope)
        plain_errors = not scope.get("path", "").startswith("/api/")
        counted = replaced = False

        async def guarded(message: Message) -> None:
            nonlocal counted, replaced
            if replaced:
                return  # the rest of an error body the client never sees
            if message["type"] == "http.response.start" and plain_errors and message.get("status", 200) >= 500:
                replaced = True
                return await respond(send, message["status"], "internal error: the server could not answer this "
                                                              "request (details are in its log)")
            if message["type"] == "http.response.start" and _is_stream(message):
                if self.streams[client] >= self.stream_limit:
                    await respond(send, 429, f"too many open event streams from this client (at most "
                                             f"{self.stream_limit}): close one, or try again later",
                                  {"Retry-After": str(STREAM_RETRY_S)})
                    raise _StreamRefused  # stops the app's stream where it writes
                self.streams[client] += 1
                counted = True
            await send(message)
        try:
            await self.app(scope, receive, guarded)
        except _StreamRefused:
            pass  # answered 429 above
        finally:
            if counted:
                self.streams[client] -= 1
                if self.streams[client] <= 0:
                    del self.streams[client]

    async def _read(self, receive: Receive, limit: int) -> bytes | int:
        """The whole body, or 413 past `limit` bytes, or 408 past the time budget."""
        chunks, size = [], 0
        deadline = time.monotonic() + self.body_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return 408
            if message["type"] == "http.disconnect":
                return 408
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return 413
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _client(scope: Scope) -> str:
    """The client's address (behind --trusted-proxies: the one X-Forwarded-For names)."""
    return (scope.get("client") or ("unknown", 0))[0]


class _StreamRefused(Exception):
    """Raised into the app when its event stream is over the client's limit."""


def _is_stream(start: Message) -> bool:
    return any(k.lower() == b"content-type" and v.lower().startswith(b"text/event-stream")
               for k, v in start.get("headers") or [])


def _replay(body: bytes, receive: Receive) -> Receive:
    """The app reads the buffered body first, then the real channel (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


def _nosniff(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                headers.append((b"x-content-type-options", b"nosniff"))
            message = {**message, "headers": headers}
        await send(message)
    return wrapped
