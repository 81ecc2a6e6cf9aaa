"""Durable conversation state behind a small interface, so a restart or an eviction from
memory never starts a conversation over, and a retried turn is never applied twice.

A `StateStore` keeps one record per session: the hash of its owner's token, a version
number and the `Session` as JSON (bot/conversation/state.py; no pickle), and beside it the
answers of the session's last MAX_REPLIES turns that carried an idempotency key. Four
calls make the whole interface, each one atomic on its own, so it maps onto a networked
store that several server processes share:

    create(record)                   -> Redis `SET key value NX` / SQL `INSERT` (fails if taken)
    load(session_id)                 -> Redis `HMGET`            / SQL `SELECT ... WHERE id = ?`
    save(state, version, reply?)     -> Redis Lua compare-and-set / SQL `UPDATE ... WHERE id = ?
                                        AND version = ?` plus the reply, in one transaction
    reply(session_id, key)           -> the answer kept for an idempotency key, or None

`save` is a compare-and-set on `version`: two processes that both continued the same
session cannot silently overwrite each other; the loser gets `StateConflict`. The reply
is written by the same save as the state it produced, so a kept answer always means its
turn is in the state, and a turn in the state with a key always has its answer.
`SqliteStateStore` is the one-machine implementation (WAL, one file beside the logbook,
opened through bot/service/sqlfile.py so a damaged file is an error, not a SIGBUS);
`MemoryStateStore` is for tests. A store that cannot answer now (locked past
BUSY_TIMEOUT_S, disk full, read-only) raises `StateStoreError`; the API answers 503 +
Retry-After, and `health()` says "error: ..." until a call succeeds again.

What this module does NOT know: HTTP, tokens in headers, or how a turn is computed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.conversation.state import Session, session_from_json, session_to_json
from bot.service.sqlfile import ShmWatch, StorageFault, check_writable, connect

BUSY_TIMEOUT_S = 2.0  # a state write waits this long for another process's lock, then fails
STATE_TTL_S = 30 * 24 * 3600  # sessions untouched for 30 days are dropped when a server starts
MAX_REPLIES = 16  # answers kept per session for idempotency keys: a client retries its latest turns, not old ones


class StateStoreError(RuntimeError):
    """The state store cannot be used; the text says what to do."""


class StateConflict(RuntimeError):
    """The session changed in another request or process since it was loaded."""


@dataclass(frozen=True)
class StoredSession:
    session: Session
    token_sha256: str  # hex digest of the owner's token: the token itself is never stored
    version: int  # +1 on every save; `save` refuses a stale version


@dataclass(frozen=True)
class KeptReply:
    """The answer a turn sent under an idempotency key, kept to send again on a retry."""

    key: str  # the client's Idempotency-Key
    fingerprint: str  # sha256 of the request it answered: the same key with another body is refused
    answer: str  # the response body, JSON, exactly as sent


class StateStore(Protocol):
    def create(self, record: StoredSession) -> None:
        """Store a new session; StateConflict if its id is taken."""

    def load(self, session_id: str) -> StoredSession | None:
        """The stored session, or None for an id never created."""

    def save(self, session: Session, version: int, reply: KeptReply | None = None) -> int:
        """Replace the state stored at `version` and keep `reply` with it (the oldest beyond
        MAX_REPLIES dropped), atomically; the new version. StateConflict if stale, or if
        `reply.key` is kept already (its turn won a race with this one)."""

    def reply(self, session_id: str, key: str) -> KeptReply | None:
        """The reply kept for `key` on this session, or None."""

    def health(self) -> str:
        """"ok", or "error: ..." while the store cannot be used; never waits on a call."""


class MemoryStateStore:
    """A StateStore in a dict: lost on restart (tests, `--no-state`)."""

    def __init__(self) -> None:
        self._records: dict[str, tuple[str, int, str]] = {}
        self._replies: dict[str, OrderedDict[str, KeptReply]] = {}
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

    def save(self, session: Session, version: int, reply: KeptReply | None = None) -> int:
        sid = session.session_id
        with self._lock:
            row = self._records.get(sid)
            if row is None or row[1] != version or (reply is not None and reply.key in self._replies.get(sid, {})):
                raise StateConflict("the session changed in another request; retry")
            self._records[sid] = (row[0], version + 1, json.dumps(session_to_json(session)))
            if reply is not None:
                kept = self._replies.setdefault(sid, OrderedDict())
                kept[reply.key] = reply
                while len(kept) > MAX_REPLIES:
                    kept.popitem(last=False)
        return version + 1

    def reply(self, session_id: str, key: str) -> KeptReply | None:
        with self._lock:
            return self._replies.get(session_id, {}).get(key)

    def health(self) -> str:
        return "ok"


_SCHEMA = """CREATE TABLE IF NOT EXISTS session_state (
  session_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, version INTEGER NOT NULL,
  state TEXT NOT NULL, updated REAL NOT NULL)"""
# Added for idempotency keys; a file written before it gets the table when opened. `version`
# is the one the reply's turn produced: the newest MAX_REPLIES per session are kept.
_REPLIES = """CREATE TABLE IF NOT EXISTS session_replies (
  session_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, answer TEXT NOT NULL,
  version INTEGER NOT NULL, PRIMARY KEY (session_id, key))"""


class SqliteStateStore:
    """A StateStore in one SQLite file (WAL): survives restarts and kill -9, shared by the
    processes of one machine. Every call is its own committed transaction. Opening it
    drops sessions untouched for `ttl_s` (None keeps all), so the file stays bounded;
    the logbook keeps their history regardless."""

    def __init__(self, path: Path | str, ttl_s: float | None = STATE_TTL_S) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._watch = ShmWatch(self.path)
        self.fault: str | None = None  # why the last call failed; None once one succeeds
        try:
            self._db, _ = connect(self.path, BUSY_TIMEOUT_S)
            self._db.execute(_SCHEMA)
            self._db.execute(_REPLIES)
            if ttl_s is not None:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM session_state WHERE updated < ?", (time.time() - ttl_s,))
                self._db.execute("DELETE FROM session_replies WHERE session_id NOT IN "
                                 "(SELECT session_id FROM session_state)")
                self._db.execute("COMMIT")
            self._watch.check()
        except (sqlite3.Error, StorageFault) as e:
            raise StateStoreError(f"cannot use {self.path} as the session state store ({e}): "
                                  "pass another --state-db path") from None

    def close(self) -> None:
        with self._lock:
            try:
                self._watch.check()
            except StorageFault:  # closing would read the damaged mapping: leave it to the OS
                return
            self._db.close()
            self._watch.forget()

    @contextmanager
    def _db_call(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, its -shm checked before and after; a file that
        cannot answer is StateStoreError (and `health` says so until a call succeeds)."""
        with self._lock:
            try:
                self._watch.check()
                yield self._db
                self._watch.check()
            except sqlite3.IntegrityError:
                raise
            except (sqlite3.Error, StorageFault) as e:
                self.fault = f"{type(e).__name__}: {e}"
                raise StateStoreError(f"the session store cannot answer now ({e}); try again") from None
            self.fault = None

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

    def save(self, session: Session, version: int, reply: KeptReply | None = None) -> int:
        sid = session.session_id
        try:
            with self._db_call() as db, _transaction(db):
                n = db.execute("UPDATE session_state SET state = ?, version = ?, updated = ? "
                               "WHERE session_id = ? AND version = ?",
                               (json.dumps(session_to_json(session)), version + 1, time.time(),
                                sid, version)).rowcount
                if n == 1 and reply is not None:
                    db.execute("INSERT INTO session_replies VALUES (?, ?, ?, ?, ?)",
                               (sid, reply.key, reply.fingerprint, reply.answer, version + 1))
                    db.execute("DELETE FROM session_replies WHERE session_id = ? AND version NOT IN "
                               "(SELECT version FROM session_replies WHERE session_id = ? "
                               "ORDER BY version DESC LIMIT ?)", (sid, sid, MAX_REPLIES))
        except sqlite3.IntegrityError:  # the key is kept already: its turn won a race with this one
            raise StateConflict("the session changed in another request; retry") from None
        if n != 1:
            raise StateConflict("the session changed in another request; retry")
        return version + 1

    def reply(self, session_id: str, key: str) -> KeptReply | None:
        with self._db_call() as db:
            row = db.execute("SELECT fingerprint, answer FROM session_replies WHERE session_id = ? AND key = ?",
                             (session_id, key)).fetchone()
        return None if row is None else KeptReply(key, row[0], row[1])

    def health(self) -> str:
        """From the last call and a look at the files' permissions: no lock, no I/O wait."""
        if self.fault is not None:
            return f"error: {self.fault}"
        try:
            check_writable(self.path)
        except StorageFault as e:
            return f"error: {e}"
        return "ok"

    def count(self) -> int:
        with self._db_call() as db:
            return db.execute("SELECT COUNT(*) FROM session_state").fetchone()[0]


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on an autocommit connection: committed, or rolled back."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
