"""Durable conversation state behind a small interface, so a restart or an eviction from
memory never starts a conversation over.

A `StateStore` keeps one record per session: the hash of its owner's token, a version
number and the `Session` as JSON (bot/conversation/state.py; no pickle). Three calls make the whole
interface, each one atomic on its own, so it maps onto a networked store that several
server processes share:

    create(record)            -> Redis `SET key value NX`   / SQL `INSERT` (fails if taken)
    load(session_id)          -> Redis `GET key`            / SQL `SELECT ... WHERE id = ?`
    save(id, state, version)  -> Redis `WATCH`+`MULTI` or a Lua compare-and-set
                                 / SQL `UPDATE ... WHERE id = ? AND version = ?`

`save` is a compare-and-set on `version`: two processes that both continued the same
session cannot silently overwrite each other; the loser gets `StateConflict`.
`SqliteStateStore` is the one-machine implementation (WAL, one file beside the logbook);
`MemoryStateStore` is for tests. A store that cannot answer now (locked past
BUSY_TIMEOUT_S, disk full) raises `StateStoreError`; the API answers 503 + Retry-After.

What this module does NOT know: HTTP, tokens in headers, or how a turn is computed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.conversation.state import Session, session_from_json, session_to_json

BUSY_TIMEOUT_S = 2.0  # a state write waits this long for another process's lock, then fails
STATE_TTL_S = 30 * 24 * 3600  # sessions untouched for 30 days are dropped when a server starts


class StateStoreError(RuntimeError):
    """The state store cannot be used; the text says what to do."""


class StateConflict(RuntimeError):
    """The session changed in another request or process since it was loaded."""


@dataclass(frozen=True)
class StoredSession:
    session: Session
    token_sha256: str  # hex digest of the owner's token: the token itself is never stored
    version: int  # +1 on every save; `save` refuses a stale version


class StateStore(Protocol):
    def create(self, record: StoredSession) -> None:
        """Store a new session; StateConflict if its id is taken."""

    def load(self, session_id: str) -> StoredSession | None:
        """The stored session, or None for an id never created."""

    def save(self, session: Session, version: int) -> int:
        """Replace the state stored at `version`; the new version. StateConflict if stale."""


class MemoryStateStore:
    """A StateStore in a dict: lost on restart (tests, `--no-state`)."""

    def __init__(self) -> None:
        self._records: dict[str, tuple[str, int, str]] = {}
        self._lock = threading.Lock()

    def create(self, record: StoredSession) -> None:
        with self._lock:
            if record.session.session_id in self._records:
                raise StateConflict("session id taken")
            self._records[record.session.session_id] = (
                record.token_sha256, record.version, json.dumps(session_to_json(record.session)))

    def load(self, session_id: str) -> StoredSession | None:
        with self._lock:
            row = self._records.get(session_id)
        return None if row is None else StoredSession(session_from_json(json.loads(row[2])), row[0], row[1])

    def save(self, session: Session, version: int) -> int:
        with self._lock:
            row = self._records.get(session.session_id)
            if row is None or row[1] != version:
                raise StateConflict("the session changed in another request; retry")
            self._records[session.session_id] = (row[0], version + 1, json.dumps(session_to_json(session)))
        return version + 1


_SCHEMA = """CREATE TABLE IF NOT EXISTS session_state (
  session_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, version INTEGER NOT NULL,
  state TEXT NOT NULL, updated REAL NOT NULL)"""


class SqliteStateStore:
    """A StateStore in one SQLite file (WAL): survives restarts and kill -9, shared by the
    processes of one machine. Every call is its own committed transaction. Opening it
    drops sessions untouched for `ttl_s` (None keeps all), so the file stays bounded;
    the logbook keeps their history regardless."""

    def __init__(self, path: Path | str, ttl_s: float | None = STATE_TTL_S) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(_SCHEMA)
            if ttl_s is not None:
                self._db.execute("DELETE FROM session_state WHERE updated < ?", (time.time() - ttl_s,))
        except sqlite3.Error as e:
            raise StateStoreError(f"cannot use {self.path} as the session state store ({e}): "
                                  "pass another --state-db path") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _db_call(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a file that cannot answer is StateStoreError."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as e:
                raise StateStoreError(f"the session store cannot answer now ({e}); try again") from None

    def create(self, record: StoredSession) -> None:
        s = record.session
        try:
            with self._db_call() as db:
                db.execute("INSERT INTO session_state VALUES (?, ?, ?, ?, ?)",
                           (s.session_id, record.token_sha256, record.version,
                            json.dumps(session_to_json(s)), time.time()))
        except sqlite3.IntegrityError:
            raise StateConflict("session id taken") from None

    def load(self, session_id: str) -> StoredSession | None:
        with self._db_call() as db:
            row = db.execute("SELECT token_sha256, version, state FROM session_state "
                             "WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else StoredSession(session_from_json(json.loads(row[2])), row[0], row[1])

    def save(self, session: Session, version: int) -> int:
        with self._db_call() as db:
            n = db.execute("UPDATE session_state SET state = ?, version = ?, updated = ? "
                                 "WHERE session_id = ? AND version = ?",
                                 (json.dumps(session_to_json(session)), version + 1, time.time(),
                                  session.session_id, version)).rowcount
        if n != 1:
            raise StateConflict("the session changed in another request; retry")
        return version + 1

    def count(self) -> int:
        with self._db_call() as db:
            return db.execute("SELECT COUNT(*) FROM session_state").fetchone()[0]
