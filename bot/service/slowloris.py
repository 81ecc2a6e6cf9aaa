"""A header read timeout for uvicorn: a connection must finish sending its request line
and headers within `HEADER_TIMEOUT_S` of connecting (or of its previous response), else
it is closed. uvicorn times out idle keep-alive connections but not slow headers, so a
client sending one header byte every few seconds could hold a connection forever.

Pass `HeaderTimeoutH11` as uvicorn's `http` protocol class (launch.py does). Bodies are
timed separately, per request, by bot/service/guard.py. Behind a reverse proxy, its own header
timeout (nginx `client_header_timeout`) does the same job earlier.

Each client address may hold at most `PER_CLIENT_CONNECTIONS` connections at once; one
more is closed as soon as it opens. uvicorn's `limit_concurrency` (256, launch.py
`server_options`) counts idle connections too, so 300 connections that never send a byte
used to make every route answer 503 for as long as they were held; now one address holds
at most 32 of them, and health checks and everyone else keep the rest. The addresses of
trusted reverse proxies (`--trusted-proxies`) are exempt: every client behind a proxy
shares its address, so there the proxy's own per-client limits apply (nginx `limit_conn`).
`connection_protocol(trusted)` is the class to pass to uvicorn.

What this module does NOT know: the app; it relies on uvicorn's h11 protocol class.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0  # a request line and headers take milliseconds from a real client
# Connections one address may hold at once: a browser opens at most 6 per host, a pilot's
# API client a pool of 10 to 20; 32 of the 256 uvicorn serves (limit_concurrency).
PER_CLIENT_CONNECTIONS = 32


class HeaderTimeoutH11(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S
    per_client = PER_CLIENT_CONNECTIONS
    exempt: frozenset[str] = frozenset()  # trusted proxies: no per-address cap
    open_by_client: Counter[str] = Counter()  # one per class: connection_protocol() makes its own

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self._counted = peer[0] if isinstance(peer, tuple) and peer[0] not in self.exempt else None
        if self._counted is not None:
            if self.open_by_client[self._counted] >= self.per_client:
                self._counted = None
                transport.close()  # over its share: closed before a byte is read
                return
            self.open_by_client[self._counted] += 1
        self._arm()

    def _arm(self) -> None:
        self._waiting_for = self.cycle  # headers are in when a new cycle replaces this one
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def handle_events(self) -> None:
        super().handle_events()
        if getattr(self, "_header_timer", None) is not None and self.cycle is not self._waiting_for:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._disarm()
            self._arm()  # the next request on this keep-alive connection gets its own budget

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        client = getattr(self, "_counted", None)
        if client is not None:
            self._counted = None
            self.open_by_client[client] -= 1
            if self.open_by_client[client] <= 0:
                del self.open_by_client[client]
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def connection_protocol(trusted_proxies: str = "", per_client: int = PER_CLIENT_CONNECTIONS) -> type[HeaderTimeoutH11]:
    """The h11 protocol class for one server: header timeout, at most `per_client` open
    connections per address, the comma-separated `trusted_proxies` exempt."""
    if per_client < 1:
        raise ValueError(f"per_client must be at least 1, got {per_client}")
    exempt = frozenset(a.strip() for a in trusted_proxies.split(",") if a.strip())
    return type("ServerH11", (HeaderTimeoutH11,), {"exempt": exempt, "per_client": per_client,
                                                   "open_by_client": Counter()})
