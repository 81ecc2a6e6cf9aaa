"""Who owns a chat tab: a cookie the server issues, so that a Gradio session hash alone reads nothing.

Gradio keys each tab's `gr.State` by a session hash that the page picks and sends with
every event, and it runs any event (private ones too) for whoever sends a hash. A hash
replayed by someone else used to act on that tab's conversation and read it. So the chat
(bot/service/ui.py) keeps each tab's state with the digest of a random cookie this
middleware issues (HttpOnly, SameSite=Lax, 256 bits) and acts on a state only for the
browser that holds the cookie. gradio_client keeps the cookies of its first `/config`
answer, so API clients work as before. A client that keeps no cookie gets answers, but no
conversation is kept for it.

It also refuses Gradio's deep-link route: it dumps the last value of every component of a
session hash (the chat history among them) into a link anyone can open.

What this module does NOT know: gradio's objects, sessions, turns.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from http.cookies import CookieError, SimpleCookie

from bot.service.guard import ASGIApp, Message, Receive, Scope, Send

TAB_COOKIE = "convrec_tab"
COOKIE_BYTES = 32  # 256 random bits, like the API's session tokens
MAX_COOKIE_CHARS = 128  # an issued value is 43 characters; anything much longer is not ours
REFUSED = ("/gradio_api/deep_link",)


def owner_of(cookie: str | None) -> str | None:
    """The digest a tab's state is bound to (the cookie itself is never stored); None
    when there is no usable cookie."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        return None
    return hashlib.sha256(cookie.encode()).hexdigest()


def cookie_in(scope: Scope) -> str | None:
    """The tab cookie of a request, if it sent one."""
    for name, value in scope.get("headers") or []:
        if name == b"cookie":
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            if TAB_COOKIE in jar:
                return jar[TAB_COOKIE].value
    return None


class TabCookies:
    """ASGI middleware: issues the tab cookie on every page response (not under /api/) to a
    client that has none, and answers 403 on REFUSED routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path.rstrip("/") in REFUSED:
            body = json.dumps({"error": "deep links are disabled: they would show another tab's chat"}).encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})
        if path.startswith("/api/") or owner_of(cookie_in(scope)) is not None:
            return await self.app(scope, receive, send)
        cookie = f"{TAB_COOKIE}={secrets.token_urlsafe(COOKIE_BYTES)}; Path=/; HttpOnly; SameSite=Lax"
        if scope.get("scheme") == "https":
            cookie += "; Secure"

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)
        await self.app(scope, receive, with_cookie)
