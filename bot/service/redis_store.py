"""Session state in Redis: the `StateStore` that servers on several machines share.

Same calls and the same semantics as `SqliteStateStore` (bot/service/store.py), each one
atomic on the Redis server:

    create -> a Lua script: the key must not exist, then HSET + EXPIRE   (StateConflict if taken)
    load   -> HMGET key token_sha256 version state                       (None if absent or expired)
    save   -> a Lua script: HGET version == the caller's, then HSET version+1, state, the
              reply kept for an idempotency key (the oldest beyond MAX_REPLIES dropped) + EXPIRE
              (StateConflict if another replica moved the session on)
    reply  -> HGET key r:<idempotency key>

One hash per session under `{prefix}{session_id}` with the fields token_sha256, version,
state (the Session as JSON, bot/conversation/state.py; no pickle), one `r:<key>` field per
kept reply (JSON [fingerprint, answer]) and `reply_keys` (the kept keys, oldest first, one a
line: keys are visible ASCII, so a newline never occurs in one). Every write renews the key's
TTL, so sessions untouched for `ttl_s` disappear on their own, as the SQLite store drops
them at open. A Redis that cannot be reached or answers with an error raises
`StateStoreError` naming the URL, so the API answers 503 + Retry-After.

The `redis` client is imported when a store is made, never at package import (it is part
of the `scale` extra). What this module does NOT know: HTTP, tokens, how a turn is computed.
"""

from __future__ import annotations

import json

from bot.conversation.state import Session, session_from_json, session_to_json
from bot.service.store import MAX_REPLIES, STATE_TTL_S, KeptReply, StateConflict, StateStoreError, StoredSession

SOCKET_TIMEOUT_S = 2.0  # like the SQLite store's busy timeout: a stuck Redis is a 503, not a hang
KEY_PREFIX = "convrec:session:"

# KEYS[1] session key; ARGV: token_sha256, version, state, ttl seconds. 1 = created, 0 = taken.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'token_sha256', ARGV[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS[1] session key; ARGV: expected version, new state, ttl seconds, idempotency key ('' for
# none), its reply (JSON), replies kept at most. The new version, or -1 (stale, or the key kept
# already: its turn won a race with this one).
_SAVE = r"""
local v = redis.call('HGET', KEYS[1], 'version')
if not v or tonumber(v) ~= tonumber(ARGV[1]) then return -1 end
local key = ARGV[4]
if key ~= '' and redis.call('HEXISTS', KEYS[1], 'r:' .. key) == 1 then return -1 end
local new = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'version', new, 'state', ARGV[2])
if key ~= '' then
  redis.call('HSET', KEYS[1], 'r:' .. key, ARGV[5])
  local keys = {}
  local order = redis.call('HGET', KEYS[1], 'reply_keys')
  if order then for k in string.gmatch(order, '[^\n]+') do table.insert(keys, k) end end
  table.insert(keys, key)
  while #keys > tonumber(ARGV[6]) do redis.call('HDEL', KEYS[1], 'r:' .. table.remove(keys, 1)) end
  redis.call('HSET', KEYS[1], 'reply_keys', table.concat(keys, '\n'))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return new
"""


def _redis_module():
    try:
        import redis
    except ImportError:
        raise StateStoreError("the Redis session store needs the redis client: pip install '.[scale]'") from None
    return redis


class RedisStateStore:
    """A StateStore in Redis (`url` like redis://host:6379/0), shared by every server process
    and machine that reaches it. `ttl_s` bounds how long an untouched session is kept."""

    def __init__(self, url: str, ttl_s: int = STATE_TTL_S, prefix: str = KEY_PREFIX) -> None:
        redis = _redis_module()
        if ttl_s < 1:
            raise ValueError(f"a Redis session TTL is a whole number of seconds >= 1, got {ttl_s}")
        self.url, self.ttl_s, self.prefix = url, int(ttl_s), prefix
        self.fault: str | None = None  # why the last call failed; None once one succeeds
        self._errors = (redis.RedisError,)  # connection, timeout, response and loading errors
        try:
            self._db = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S,
                                            socket_connect_timeout=SOCKET_TIMEOUT_S, decode_responses=True)
            self._create = self._db.register_script(_CREATE)
            self._save = self._db.register_script(_SAVE)
            self._db.ping()
        except (ValueError, *self._errors) as e:
            raise StateStoreError(f"cannot use Redis at {url} as the session state store ({e}): start "
                                  "redis-server there, or pass another --redis-url") from None

    def _key(self, session_id: str) -> str:
        return self.prefix + session_id

    def _call(self, fn, *args, **kwargs):
        try:
            out = fn(*args, **kwargs)
        except self._errors as e:
            self.fault = f"{type(e).__name__}: {e}"
            raise StateStoreError(f"the session store (Redis at {self.url}) cannot answer now "
                                  f"({type(e).__name__}: {e}); try again") from None
        self.fault = None
        return out

    def create(self, record: StoredSession) -> None:
        s = record.session
        ok = self._call(self._create, keys=[self._key(s.session_id)],
                        args=[record.token_sha256, record.version, json.dumps(session_to_json(s)), self.ttl_s])
        if not ok:
            raise StateConflict("session id taken")

    def load(self, session_id: str) -> StoredSession | None:
        token_sha256, version, state = self._call(self._db.hmget, self._key(session_id),
                                                  ["token_sha256", "version", "state"])
        if state is None:
            return None
        return StoredSession(session_from_json(json.loads(state)), token_sha256, int(version))

    def save(self, session: Session, version: int, reply: KeptReply | None = None) -> int:
        kept = ["", ""] if reply is None else [reply.key, json.dumps([reply.fingerprint, reply.answer])]
        new = self._call(self._save, keys=[self._key(session.session_id)],
                         args=[version, json.dumps(session_to_json(session)), self.ttl_s, *kept, MAX_REPLIES])
        if int(new) < 0:
            raise StateConflict("the session changed in another request; retry")
        return int(new)

    def reply(self, session_id: str, key: str) -> KeptReply | None:
        row = self._call(self._db.hget, self._key(session_id), "r:" + key)
        if row is None:
            return None
        fingerprint, answer = json.loads(row)
        return KeptReply(key, fingerprint, answer)

    def health(self) -> str:
        """From the last call: no round trip, so health never waits on Redis."""
        return "ok" if self.fault is None else f"error: {self.fault}"

    def count(self) -> int:
        """Sessions stored under this prefix (SCAN: for tests and health, not per turn)."""
        return len(self._call(lambda: list(self._db.scan_iter(match=self.prefix + "*", count=1000))))

    def close(self) -> None:
        self._db.close()
