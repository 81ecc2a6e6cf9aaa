"""Logging that never breaks a turn: logbook writes with a short time budget, and a bounded
in-process queue that retries the writes that failed or waited too long.

`SafeLog` wraps a `Logbook` and offers its write calls. While the log is healthy each
write is committed before the call returns (so kill -9 keeps every acknowledged turn).
When a write fails (file locked past `budget_s`, disk full, ...) it joins a FIFO queue
and the person still gets their answer; later writes queue behind it (so the log keeps
the order things happened) and a background thread retries every `retry_s` until the
queue is empty. The queue holds at most `capacity` writes; past that the oldest is
dropped and counted. `health()` reports the state for `/api/health`; the server log
says when the log degrades and when it recovers.

What this module does NOT know: SQL (bot/service/logbook.py), HTTP, gradio.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from typing import Any

from bot.service.logbook import Logbook, LogbookError

log = logging.getLogger("convrec.logbook")
WRITES = ("log_session", "log_turn", "log_feedback", "log_rating", "log_event")
FAILURES = (sqlite3.Error, LogbookError, OSError)  # the file, not the entry (sqlfile.StorageFault is an OSError)


class SafeLog:
    def __init__(self, book: Logbook, capacity: int = 10_000, retry_s: float = 0.5) -> None:
        self.book = book
        self.capacity, self.retry_s = capacity, retry_s
        self._queue: deque[tuple[str, tuple, dict]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.retried = 0
        self.last_error: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name in WRITES:
            return lambda *args, **kwargs: self._write(name, args, kwargs)
        return getattr(self.book, name)  # reads, exports and study assignment: as they are

    def _write(self, method: str, args: tuple, kwargs: dict) -> None:
        with self._lock:
            if not self._queue:
                try:
                    getattr(self.book, method)(*args, **kwargs)
                    return
                except FAILURES as e:
                    self.last_error = f"{type(e).__name__}: {e}"
                    log.warning("logbook write failed (%s); queued for retry, the turn goes on", self.last_error)
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
                log.error("logbook retry queue full (%d): dropped the oldest entry", self.capacity)
            self._queue.append((method, args, kwargs))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._retry, name="logbook-retry", daemon=True)
                self._thread.start()

    def _drain_once(self) -> bool:
        """Write queued entries in order until one fails; True when the queue is empty."""
        with self._lock:
            while self._queue:
                method, args, kwargs = self._queue[0]
                try:
                    getattr(self.book, method)(*args, **kwargs)
                except FAILURES as e:
                    self.last_error = f"{type(e).__name__}: {e}"
                    return False
                self._queue.popleft()
                self.retried += 1
            return True

    def _retry(self) -> None:
        while True:
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._drain_once():
                log.warning("logbook writable again: %d queued entries written", self.retried)
                return

    def flush(self) -> bool:
        """Try to write the queue now (e.g. at shutdown); True when nothing is left."""
        self._wake.set()
        return self._drain_once()

    def health(self) -> dict:
        """No lock: a write may hold it for its whole busy timeout, and health never waits."""
        pending = len(self._queue)  # one atomic read of the deque's length
        return {"state": "ok" if pending == 0 else "degraded", "pending": pending, "dropped": self.dropped,
                "retried": self.retried, "last_error": self.last_error}
