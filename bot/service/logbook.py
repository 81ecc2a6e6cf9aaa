"""Append-only SQLite log of chat sessions for pilots and user studies, with its exports.

Every turn (message, reply, latency and the list shown: ids, ranks, score parts, reasons),
every like / dislike, rating and other event is written and committed the moment it is
logged, with a UTC ISO 8601 timestamp in milliseconds. The file is in WAL mode, so an
export can read while the app writes; it is opened and used through bot/service/sqlfile.py,
so a read-only or damaged file is an error the server can queue around, never a SIGBUS. `export` writes JSONL (one object per session) or
CSV (one flat row per happening); `study_summary` counts turns, ratings and feedback per
arm. Command line: `python -m bot.service.logbook export|summary --db FILE ...` (see `main`).

What this module does NOT know: gradio, HTTP, the model or the catalog, or what an arm
means (an opaque string; bot/service/study.py decides who gets which). It stores what it is given
and checks only what defines a log entry (feedback kinds, ratings 1-5, JSON-able details).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.service.sqlfile import ShmWatch, StorageFault, connect

APP = "convrec-logbook"  # in schema_version: tells our files apart from other SQLite files
SCHEMA_VERSION = 1
FEEDBACK_KINDS = ("like", "dislike", "unlike")
RATING_MIN, RATING_MAX = 1, 5
BUSY_TIMEOUT_S = 10.0  # how long a write waits while another process holds the write lock
SERVING_BUSY_TIMEOUT_S = 0.5  # the server's budget: past it the write is queued (bot/service/logqueue.py)
FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("session_id", "participant_id", "arm", "user_id", "seq", "ts", "event", "kind",
               "turn_index", "item_id", "title", "rank", "score", "text", "cf", "rating",
               "latency_ms", "message", "reply", "reason", "detail")

# `entries` numbers every logged happening in commit order (seq); each kind of happening
# keeps its own columns in a table keyed by that seq, so exports can merge them in order.
_SCHEMA = """
CREATE TABLE schema_version (app TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY, participant_id TEXT, arm TEXT, user_id TEXT,
  meta TEXT NOT NULL, created_ts TEXT NOT NULL, updated_ts TEXT NOT NULL);
CREATE TABLE participants (
  participant_id TEXT PRIMARY KEY, arm TEXT NOT NULL, ts TEXT NOT NULL, session_id TEXT NOT NULL);
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(session_id),
  ts TEXT NOT NULL, type TEXT NOT NULL CHECK (type IN ('turn', 'feedback', 'rating', 'event')));
CREATE INDEX entries_by_session ON entries(session_id, seq);
CREATE TABLE turns (
  seq INTEGER PRIMARY KEY REFERENCES entries(seq), turn_index INTEGER NOT NULL,
  message TEXT NOT NULL, reply TEXT NOT NULL, latency_ms REAL NOT NULL);
CREATE TABLE items (
  turn_seq INTEGER NOT NULL REFERENCES turns(seq), position INTEGER NOT NULL,
  item_id TEXT NOT NULL, title TEXT, rank INTEGER, score REAL, text REAL, cf REAL,
  reason TEXT, extra TEXT NOT NULL, PRIMARY KEY (turn_seq, position));
CREATE TABLE feedback (
  seq INTEGER PRIMARY KEY REFERENCES entries(seq), turn_index INTEGER,
  item_id TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE ratings (
  seq INTEGER PRIMARY KEY REFERENCES entries(seq), turn_index INTEGER NOT NULL,
  rating INTEGER NOT NULL);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY REFERENCES entries(seq), kind TEXT NOT NULL, detail TEXT NOT NULL)
"""
_ITEM_KEYS = ("item_id", "title", "rank", "score", "parts", "reason")  # columns of `items`


class LogbookError(RuntimeError):
    """A logbook file that cannot be used; the text says what to do."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_ms(t: datetime) -> str:
    """`t` as UTC ISO 8601 with milliseconds, e.g. 2026-11-27T21:14:44.123Z."""
    if t.tzinfo is None:
        raise ValueError("the logbook clock must return timezone-aware datetimes")
    t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _index(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def _json(value: Any, name: str) -> str:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict, got {type(value).__name__}")
    try:
        return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must hold only JSON values (str, number, bool, None, list, dict): {e}") from None


class Logbook:
    """One SQLite log file, safe to share between threads (one connection behind a lock)
    and between processes (SQLite's file locks, waiting up to BUSY_TIMEOUT_S).

    `clock` is injectable so tests can pin timestamps; `create=False` refuses to make a
    new file (for exports and summaries of a file that should exist); `durable=False`
    skips the fsync of each commit (SQLite synchronous=OFF) for a scratch log that a
    crash may cut short, e.g. a simulation's (benchmarks/longterm.py redoes such a round).
    """

    def __init__(self, path: Path | str, create: bool = True,
                 clock: Callable[[], datetime] = utc_now, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 durable: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LogbookError(f"no logbook at {self.path}: check the --db path "
                               "(the app creates it when logging is on)")
        self.clock = clock
        self._lock = threading.RLock()
        self._watch = ShmWatch(self.path)
        try:
            self._db, self.journal_mode = connect(self.path, busy_timeout_s)
        except StorageFault as e:
            raise LogbookError(f"cannot use logbook {self.path}: {e}") from None
        except sqlite3.OperationalError as e:
            raise LogbookError(f"cannot open logbook {self.path} ({e}): check the folder exists "
                               "and is writable") from None
        except sqlite3.DatabaseError as e:  # e.g. "file is not a database"
            raise LogbookError(f"{self.path} is not a usable SQLite logbook ({e}): "
                               "pass a new file path for the log") from None
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            if not durable:  # a scratch log (a simulation's): no fsync per commit, a crash may lose the last ones
                self._db.execute("PRAGMA synchronous = OFF")
            self._open_schema()
        except sqlite3.DatabaseError as e:  # e.g. "file is not a database"
            self._db.close()
            raise LogbookError(f"{self.path} is not a usable SQLite logbook ({e}): "
                               "pass a new file path for the log") from None
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            try:
                self._watch.check()
            except StorageFault:  # closing would read the damaged mapping: leave it to the OS
                return
            self._db.close()
            self._watch.forget()

    def __enter__(self) -> "Logbook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed before the logging call returns; the -shm is
        checked before and after (StorageFault, an OSError, when it changed under us)."""
        with self._lock:
            self._watch.check()
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._watch.check()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot even while other processes write."""
        with self._lock:
            self._watch.check()
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("ROLLBACK")

    def _open_schema(self) -> None:
        with self._write() as db:
            tables = sorted(r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
            if not tables:
                for statement in _SCHEMA.split(";"):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (APP, SCHEMA_VERSION))
                return
            row = (db.execute("SELECT app, version FROM schema_version").fetchone()
                   if "schema_version" in tables else None)
            if row is None or row[0] != APP:
                raise LogbookError(f"{self.path} is a SQLite database of another schema (tables: "
                                   f"{', '.join(tables)}), not a {APP} file: pass a new file path for the log")
            if row[1] != SCHEMA_VERSION:
                raise LogbookError(f"{self.path} holds logbook schema version {row[1]}, this code reads "
                                   f"version {SCHEMA_VERSION}: export it with the version that wrote it, "
                                   "or log to a new file")

    def _ts(self) -> str:
        return iso_ms(self.clock())

    @staticmethod
    def _ensure_session(db: sqlite3.Connection, session_id: str, ts: str) -> None:
        db.execute("INSERT OR IGNORE INTO sessions (session_id, meta, created_ts, updated_ts) "
                   "VALUES (?, '{}', ?, ?)", (session_id, ts, ts))

    def _entry(self, db: sqlite3.Connection, session_id: str, kind: str) -> int:
        """A new numbered entry (and the session row if this is its first entry); its seq."""
        ts = self._ts()
        self._ensure_session(db, session_id, ts)
        return db.execute("INSERT INTO entries (session_id, ts, type) VALUES (?, ?, ?)",
                          (session_id, ts, kind)).lastrowid

    # -- logging ----------------------------------------------------------------------

    def log_session(self, session_id: str, participant_id: str | None, arm: str | None,
                    user_id: str | None, meta: dict | None = None) -> None:
        """Record a session. Idempotent: the first call inserts it; later calls update the
        participant, arm and user id that are not None, and merge `meta` (JSON values) in.
        """
        sid = _text(session_id, "session_id")
        for name, value in (("participant_id", participant_id), ("arm", arm), ("user_id", user_id)):
            if value is not None:
                _text(value, name)
        new_meta = json.loads(_json(meta or {}, "meta"))
        with self._write() as db:
            ts = self._ts()
            self._ensure_session(db, sid, ts)
            old = json.loads(db.execute("SELECT meta FROM sessions WHERE session_id = ?", (sid,)).fetchone()[0])
            db.execute("UPDATE sessions SET participant_id = COALESCE(?, participant_id), "
                       "arm = COALESCE(?, arm), user_id = COALESCE(?, user_id), meta = ?, updated_ts = ? "
                       "WHERE session_id = ?",
                       (participant_id, arm, user_id, _json({**old, **new_meta}, "meta"), ts, sid))

    def log_turn(self, session_id: str, turn_index: int, message: str, reply: str,
                 items: list[dict], latency_ms: float) -> None:
        """Record one chat turn and the list it showed, in the API's item shape:
        {"item_id", "title", "rank", "score", "parts": {"text", "cf"}, "reason", ...}.
        Keys beyond those (year, genres, ...) are kept as JSON in the item's `extra`.
        """
        sid = _text(session_id, "session_id")
        _index(turn_index, "turn_index")
        if not isinstance(message, str) or not isinstance(reply, str):
            raise ValueError("message and reply must be strings")
        if (isinstance(latency_ms, bool) or not isinstance(latency_ms, (int, float))
                or not math.isfinite(latency_ms) or latency_ms < 0):
            raise ValueError(f"latency_ms must be a finite number >= 0, got {latency_ms!r}")
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"items must be a list of item dicts, got {type(items).__name__}")
        rows = []
        for pos, it in enumerate(items):
            if not isinstance(it, Mapping) or not isinstance(it.get("item_id"), str) or not it["item_id"]:
                raise ValueError(f"items[{pos}] must be a dict with a string item_id, got {it!r}")
            parts = it.get("parts") or {}
            if not isinstance(parts, Mapping):
                raise ValueError(f"items[{pos}].parts must be a dict like {{'text': .., 'cf': ..}}")
            extra = {k: v for k, v in it.items() if k not in _ITEM_KEYS}
            if set(parts) - {"text", "cf"}:
                extra["parts"] = dict(parts)  # parts beyond text/cf: kept whole, nothing lost
            rows.append((pos, it["item_id"], it.get("title"), it.get("rank"), it.get("score"),
                         parts.get("text"), parts.get("cf"), it.get("reason"), _json(extra, f"items[{pos}]")))
        with self._write() as db:
            seq = self._entry(db, sid, "turn")
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                       (seq, turn_index, message, reply, float(latency_ms)))
            db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(seq, *r) for r in rows])

    def log_feedback(self, session_id: str, item_id: str, kind: str, turn_index: int | None = None) -> None:
        """Record a like, dislike or unlike (taking a like or dislike back) of one item."""
        sid = _text(session_id, "session_id")
        _text(item_id, "item_id")
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")
        if turn_index is not None:
            _index(turn_index, "turn_index")
        with self._write() as db:
            seq = self._entry(db, sid, "feedback")
            db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?)", (seq, turn_index, item_id, kind))

    def log_rating(self, session_id: str, turn_index: int, rating: int) -> None:
        """Record a 1-5 rating of one reply; a later rating of the same turn supersedes it
        in `study_summary`, but both stay in the log."""
        sid = _text(session_id, "session_id")
        _index(turn_index, "turn_index")
        if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
            raise ValueError(f"rating must be an integer from {RATING_MIN} to {RATING_MAX}, got {rating!r}")
        with self._write() as db:
            seq = self._entry(db, sid, "rating")
            db.execute("INSERT INTO ratings VALUES (?, ?, ?)", (seq, turn_index, rating))

    def log_event(self, session_id: str, kind: str, detail: dict | None = None) -> None:
        """Record any other happening (reset, consent accepted, summary edited, ...)."""
        sid = _text(session_id, "session_id")
        _text(kind, "kind")
        detail_json = _json(detail or {}, "detail")
        with self._write() as db:
            seq = self._entry(db, sid, "event")
            db.execute("INSERT INTO events VALUES (?, ?, ?)", (seq, kind, detail_json))

    def assign_participant(self, session_id: str, participant_id: str,
                           choose: Callable[[dict[str, int], str | None], str]) -> str:
        """The participant's arm, chosen once and kept: in one transaction, reads the arm
        recorded for `participant_id` (or None) and the participants per arm, calls
        `choose(counts, previous)` (e.g. bot.service.study.assign_arm), records a new assignment,
        sets the session's participant and arm, and logs an "assigned" event.
        """
        sid = _text(session_id, "session_id")
        pid = _text(participant_id, "participant_id")
        with self._write() as db:
            row = db.execute("SELECT arm FROM participants WHERE participant_id = ?", (pid,)).fetchone()
            previous = row[0] if row else None
            counts = {a: n for a, n in db.execute("SELECT arm, COUNT(*) FROM participants GROUP BY arm")}
            arm = _text(choose(counts, previous), "the chosen arm")
            if previous is not None and arm != previous:
                raise ValueError(f"participant {pid!r} is recorded in arm {previous!r}; "
                                 f"the chooser returned {arm!r}")
            seq = self._entry(db, sid, "event")
            ts = db.execute("SELECT ts FROM entries WHERE seq = ?", (seq,)).fetchone()[0]
            if previous is None:
                db.execute("INSERT INTO participants VALUES (?, ?, ?, ?)", (pid, arm, ts, sid))
            db.execute("UPDATE sessions SET participant_id = ?, arm = ?, updated_ts = ? WHERE session_id = ?",
                       (pid, arm, ts, sid))
            db.execute("INSERT INTO events VALUES (?, 'assigned', ?)",
                       (seq, _json({"participant_id": pid, "arm": arm, "returning": previous is not None},
                                   "detail")))
        return arm

    def ping(self) -> None:
        """Take the write lock and let go: raises if the file cannot be written now."""
        with self._write():
            pass

    # -- reading ----------------------------------------------------------------------

    def session_arm(self, session_id: str) -> tuple[str, str] | None:
        """(participant id, arm) recorded for a session, or None outside a study."""
        with self._read() as db:
            row = db.execute("SELECT participant_id, arm FROM sessions WHERE session_id = ?",
                             (session_id,)).fetchone()
        return None if row is None or row[1] is None else (row[0], row[1])

    def table_counts(self) -> dict[str, int]:
        """Rows per table (what a complete export must account for)."""
        names = ("sessions", "participants", "entries", "turns", "items", "feedback", "ratings", "events")
        with self._read() as db:
            return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in names}

    def sessions(self) -> list[dict]:
        """Every session with all it logged, sessions in creation order, lists in log order.

        {"session_id", "participant_id", "arm", "user_id", "meta", "created_ts", "updated_ts",
         "turns": [{"seq", "ts", "turn_index", "message", "reply", "latency_ms", "items": [...]}],
         "feedback": [{"seq", "ts", "turn_index", "item_id", "kind"}],
         "ratings": [{"seq", "ts", "turn_index", "rating"}],
         "events": [{"seq", "ts", "kind", "detail"}]}; `seq` orders entries across the lists.
        """
        with self._read() as db:
            out: dict[str, dict] = {}
            for sid, pid, arm, uid, meta, created, updated in db.execute(
                    "SELECT session_id, participant_id, arm, user_id, meta, created_ts, updated_ts "
                    "FROM sessions ORDER BY rowid"):
                out[sid] = {"session_id": sid, "participant_id": pid, "arm": arm, "user_id": uid,
                            "meta": json.loads(meta), "created_ts": created, "updated_ts": updated,
                            "turns": [], "feedback": [], "ratings": [], "events": []}
            items: dict[int, list[dict]] = {}
            for seq, iid, title, rank, score, text, cf, reason, extra in db.execute(
                    "SELECT turn_seq, item_id, title, rank, score, text, cf, reason, extra "
                    "FROM items ORDER BY turn_seq, position"):
                items.setdefault(seq, []).append({"item_id": iid, "title": title, "rank": rank, "score": score,
                                                  "parts": {"text": text, "cf": cf}, "reason": reason,
                                                  **json.loads(extra)})
            queries = {
                "turns": ("SELECT e.seq, e.session_id, e.ts, t.turn_index, t.message, t.reply, t.latency_ms "
                          "FROM entries e JOIN turns t USING (seq) ORDER BY e.seq",
                          ("turn_index", "message", "reply", "latency_ms")),
                "feedback": ("SELECT e.seq, e.session_id, e.ts, f.turn_index, f.item_id, f.kind "
                             "FROM entries e JOIN feedback f USING (seq) ORDER BY e.seq",
                             ("turn_index", "item_id", "kind")),
                "ratings": ("SELECT e.seq, e.session_id, e.ts, r.turn_index, r.rating "
                            "FROM entries e JOIN ratings r USING (seq) ORDER BY e.seq", ("turn_index", "rating")),
                "events": ("SELECT e.seq, e.session_id, e.ts, v.kind, v.detail "
                           "FROM entries e JOIN events v USING (seq) ORDER BY e.seq", ("kind", "detail")),
            }
            for key, (sql, fields) in queries.items():
                for seq, sid, ts, *values in db.execute(sql):
                    rec = {"seq": seq, "ts": ts, **dict(zip(fields, values))}
                    if key == "turns":
                        rec["items"] = items.get(seq, [])
                    if key == "events":
                        rec["detail"] = json.loads(rec["detail"])
                    out[sid][key].append(rec)
        return list(out.values())

    def export(self, out: Path, fmt: str) -> int:
        """Write every session to `out` as "jsonl" (one object per session, see `sessions`)
        or "csv" (one row per session, turn, shown item, feedback, rating and event; columns
        CSV_COLUMNS). Written to a temporary file, then renamed. Returns records written.
        """
        return write_export(self.sessions(), out, fmt)

    def study_summary(self, arms: Sequence[str] = ()) -> list[dict]:
        """Per arm: {"arm", "sessions", "participants", "turns", "turns_per_session",
        "ratings", "mean_rating", "likes", "dislikes", "unlikes"}. Ratings count the latest
        rating of each rated turn; feedback counts every event. Rows for `arms` come first
        (even if empty), then other arms by name, then sessions with no arm (arm None).
        """
        stats: dict[str | None, dict] = {}

        def row(arm: str | None) -> dict:
            return stats.setdefault(arm, {"arm": arm, "sessions": 0, "participants": set(), "turns": 0,
                                          "rated": {}, "likes": 0, "dislikes": 0, "unlikes": 0})
        for a in arms:
            row(a)
        with self._read() as db:
            arm_of: dict[str, str | None] = {}
            for sid, pid, arm in db.execute("SELECT session_id, participant_id, arm FROM sessions"):
                arm_of[sid] = arm
                r = row(arm)
                r["sessions"] += 1
                if pid is not None:
                    r["participants"].add(pid)
            for sid, n in db.execute("SELECT e.session_id, COUNT(*) FROM entries e JOIN turns USING (seq) "
                                     "GROUP BY e.session_id"):
                row(arm_of[sid])["turns"] += n
            for sid, turn, rating in db.execute("SELECT e.session_id, r.turn_index, r.rating "
                                                "FROM entries e JOIN ratings r USING (seq) ORDER BY e.seq"):
                row(arm_of[sid])["rated"][(sid, turn)] = rating
            for sid, kind, n in db.execute("SELECT e.session_id, f.kind, COUNT(*) FROM entries e "
                                           "JOIN feedback f USING (seq) GROUP BY e.session_id, f.kind"):
                row(arm_of[sid])[kind + "s"] += n
        order = list(dict.fromkeys(arms)) + sorted(a for a in stats if a is not None and a not in arms)
        order += [None] if None in stats else []
        result = []
        for a in order:
            r = stats[a]
            ratings = list(r.pop("rated").values())
            r["participants"] = len(r["participants"])
            r["turns_per_session"] = r["turns"] / r["sessions"] if r["sessions"] else None
            r["ratings"] = len(ratings)
            r["mean_rating"] = sum(ratings) / len(ratings) if ratings else None
            result.append({k: r[k] for k in ("arm", "sessions", "participants", "turns", "turns_per_session",
                                             "ratings", "mean_rating", "likes", "dislikes", "unlikes")})
        return result


def write_export(sessions: list[dict], out: Path, fmt: str) -> int:
    """Write session records (see `Logbook.sessions`) as "jsonl" or "csv"; records written."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            if fmt == "jsonl":
                for s in sessions:
                    f.write(json.dumps(s, ensure_ascii=False) + "\n")
                n = len(sessions)
            else:
                writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                rows = [r for s in sessions for r in csv_rows(s)]
                writer.writerows(rows)
                n = len(rows)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def csv_rows(session: dict) -> list[dict]:
    """One session record (see `Logbook.sessions`) as flat CSV rows: the session itself,
    then its turns (each followed by its shown items), feedback, ratings and events by seq."""
    base = {k: session[k] for k in ("session_id", "participant_id", "arm", "user_id")}
    rows = [{**base, "ts": session["created_ts"], "event": "session", "detail": json.dumps(session["meta"])}]
    timed: list[tuple[int, list[dict]]] = []
    for t in session["turns"]:
        turn_row = {**base, "seq": t["seq"], "ts": t["ts"], "event": "turn", "turn_index": t["turn_index"],
                    "message": t["message"], "reply": t["reply"], "latency_ms": t["latency_ms"]}
        item_rows = []
        for it in t["items"]:
            extra = {k: v for k, v in it.items() if k not in _ITEM_KEYS}
            item_rows.append({**base, "seq": t["seq"], "ts": t["ts"], "event": "item",
                              "turn_index": t["turn_index"], "item_id": it["item_id"], "title": it["title"],
                              "rank": it["rank"], "score": it["score"], "text": it["parts"]["text"],
                              "cf": it["parts"]["cf"], "reason": it["reason"],
                              "detail": json.dumps(extra, ensure_ascii=False) if extra else None})
        timed.append((t["seq"], [turn_row] + item_rows))
    for f in session["feedback"]:
        timed.append((f["seq"], [{**base, "seq": f["seq"], "ts": f["ts"], "event": "feedback", "kind": f["kind"],
                                  "turn_index": f["turn_index"], "item_id": f["item_id"]}]))
    for r in session["ratings"]:
        timed.append((r["seq"], [{**base, "seq": r["seq"], "ts": r["ts"], "event": "rating",
                                  "turn_index": r["turn_index"], "rating": r["rating"]}]))
    for e in session["events"]:
        timed.append((e["seq"], [{**base, "seq": e["seq"], "ts": e["ts"], "event": "event", "kind": e["kind"],
                                  "detail": json.dumps(e["detail"], ensure_ascii=False)}]))
    for _, group in sorted(timed, key=lambda x: x[0]):
        rows.extend(group)
    return rows


def format_summary(rows: list[dict]) -> str:
    """`Logbook.study_summary` rows as a Markdown table."""
    def num(x: float | None) -> str:
        return "–" if x is None else f"{x:.2f}"
    head = ("arm", "sessions", "participants", "turns", "turns/session", "ratings", "mean rating",
            "likes", "dislikes", "unlikes")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        arm = "(no arm)" if r["arm"] is None else str(r["arm"]).replace("|", "\\|")
        cells = (arm, r["sessions"], r["participants"], r["turns"], num(r["turns_per_session"]),
                 r["ratings"], num(r["mean_rating"]), r["likes"], r["dislikes"], r["unlikes"])
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.service.logbook export --db F --out F --format jsonl|csv` or `summary --db F`."""
    parser = argparse.ArgumentParser(prog="python -m bot.service.logbook", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write every session to JSONL or CSV")
    ex.add_argument("--db", type=Path, required=True, help="the logbook SQLite file")
    ex.add_argument("--out", type=Path, required=True, help="the file to write")
    ex.add_argument("--format", choices=FORMATS, default=None,
                    help="jsonl or csv (default: from the --out suffix)")
    sm = sub.add_parser("summary", help="print turns, ratings and feedback per study arm (Markdown)")
    sm.add_argument("--db", type=Path, required=True, help="the logbook SQLite file")
    args = parser.parse_args(argv)
    try:
        with Logbook(args.db, create=False) as book:
            if args.command == "summary":
                print(format_summary(book.study_summary()))
                return 0
            fmt = args.format or args.out.suffix.lstrip(".").lower()
            if fmt not in FORMATS:
                parser.error(f"cannot tell the format from {args.out.name!r}: pass --format jsonl or --format csv")
            sessions = book.sessions()
        n = write_export(sessions, args.out, fmt)
        turns = [t for s in sessions for t in s["turns"]]
        print(f"wrote {n} {'sessions' if fmt == 'jsonl' else 'rows'} to {args.out}: {len(sessions)} sessions, "
              f"{len(turns)} turns, {sum(len(t['items']) for t in turns)} shown items, "
              f"{sum(len(s['feedback']) for s in sessions)} feedback, "
              f"{sum(len(s['ratings']) for s in sessions)} ratings, {sum(len(s['events']) for s in sessions)} events")
        return 0
    except (LogbookError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
