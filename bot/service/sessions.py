"""Server-issued sessions: an unguessable id plus a secret token, checked on every call.

`Sessions.issue` makes a session id (128 random bits) and a token (256 random bits) and
stores only the token's sha256 beside the state; `claim` returns the stored session to
whoever presents the right token and raises `NotOwner` otherwise — with the same words for
an unknown id and a wrong token, so a caller learns nothing about ids that are not theirs.

Memory stays bounded whatever ids callers send: recently used sessions are cached
(least recently used dropped past `capacity`; the durable store still has them), and
per-session locks are a fixed set of stripes, not one lock per id ever seen.

What this module does NOT know: HTTP or headers (bot/service/api.py reads the token from one),
or how a turn is computed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import replace

from bot.conversation.state import Session
from bot.service.store import KeptReply, MemoryStateStore, StateConflict, StateStore, StoredSession

ID_BYTES, TOKEN_BYTES = 16, 32  # 128-bit ids (unguessable), 256-bit tokens (secrets)
LOCK_STRIPES = 64  # turns of different sessions rarely share one; memory fixed
MAX_ID_CHARS = 64  # an issued id is 22 characters; anything much longer was never issued


class NotOwner(PermissionError):
    """No session with this id and token: the text says how to get one."""


NOT_OWNER = ("no session with this session_id and token: session ids are issued by the server. "
             "Start one with POST /api/sessions (or POST /api/chat without a session_id) and send "
             "the token it returns in the X-Session-Token header")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Sessions:
    """Issued sessions: a durable `StateStore` with an LRU cache and striped locks."""

    def __init__(self, store: StateStore | None = None, capacity: int = 10_000) -> None:
        self.store: StateStore = store if store is not None else MemoryStateStore()
        self.capacity = capacity
        self._cache: OrderedDict[str, StoredSession] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._stripes = tuple(threading.Lock() for _ in range(LOCK_STRIPES))

    def new_id(self) -> str:
        return secrets.token_urlsafe(ID_BYTES)

    def issue(self, session: Session) -> str:
        """Store `session` (made with an id from `new_id`) as new; its owner's token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        record = StoredSession(session, token_hash(token), 0)
        self.store.create(record)
        self._remember(record)
        return token

    def lock(self, session_id: str) -> threading.Lock:
        """The lock that serialises turns of `session_id` in this process."""
        return self._stripes[int.from_bytes(hashlib.blake2b(session_id.encode("utf-8"), digest_size=2).digest())
                             % LOCK_STRIPES]

    def claim(self, session_id: str, token: str | None) -> StoredSession:
        """The session, if `token` is its owner's; NotOwner otherwise (unknown id included)."""
        if not token or len(session_id) > MAX_ID_CHARS:
            raise NotOwner(NOT_OWNER)
        with self._cache_lock:
            record = self._cache.get(session_id)
            if record is not None:
                self._cache.move_to_end(session_id)
        if record is None:
            record = self.store.load(session_id)  # restart or eviction: the durable copy
            if record is None:
                raise NotOwner(NOT_OWNER)
        if not secrets.compare_digest(record.token_sha256, token_hash(token)):
            raise NotOwner(NOT_OWNER)
        self._remember(record)
        return record

    def save(self, record: StoredSession, session: Session, reply: KeptReply | None = None) -> StoredSession:
        """Store the session's new state, and `reply` with it when the turn carried an
        idempotency key (call under `lock`); the new record."""
        try:
            version = self.store.save(session, record.version, reply)
        except StateConflict:  # another process moved it on: reload from the store next time
            with self._cache_lock:
                self._cache.pop(session.session_id, None)
            raise
        new = replace(record, session=session, version=version)
        self._remember(new)
        return new

    def reply(self, session_id: str, key: str) -> KeptReply | None:
        """The answer kept for idempotency key `key` on this session (claim it first), or None.
        Always read from the store: another process may have answered the key."""
        return self.store.reply(session_id, key)

    def health(self) -> str:
        """The store's: "ok" or "error: ...", without waiting on it."""
        return self.store.health()

    def cached(self) -> int:
        with self._cache_lock:
            return len(self._cache)

    def _remember(self, record: StoredSession) -> None:
        with self._cache_lock:
            self._cache[record.session.session_id] = record
            self._cache.move_to_end(record.session.session_id)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
