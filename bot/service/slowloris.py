"""A header read timeout for uvicorn: a connection must finish sending its request line
and headers within `HEADER_TIMEOUT_S` of connecting (or of its previous response), else
it is closed. uvicorn times out idle keep-alive connections but not slow headers, so a
client sending one header byte every few seconds could hold a connection forever.

Pass `HeaderTimeoutH11` as uvicorn's `http` protocol class (launch.py does). Bodies are
timed separately, per request, by bot/service/guard.py. Behind a reverse proxy, its own header
timeout (nginx `client_header_timeout`) does the same job earlier.

What this module does NOT know: the app; it relies on uvicorn's h11 protocol class.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0  # a request line and headers take milliseconds from a real client


class HeaderTimeoutH11(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
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
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
