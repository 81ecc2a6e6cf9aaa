"""SQLite files that fail with an error the server can report, never with a signal that kills it.

The logbook (bot/service/logbook.py) and the state store (bot/service/store.py) open their
files here. In WAL mode SQLite maps `<db>-shm` into memory, shared by every connection of
every process; if that file shrinks under a running process, the next access to the lost
pages is a SIGBUS, which ends the interpreter with no log line (an audit rewrote the
logbook's -shm read-only and the server died that way). Disk full, a read-only file or an
I/O error, by contrast, are ordinary SQLite errors that the callers turn into a 503 (state)
or a queued write (logbook). So:

- `connect` never memory-maps the database file itself (`PRAGMA mmap_size = 0`): an I/O
  error on it stays an error code. It refuses, with the file's name, a database, -wal or
  -shm that exists but that this process cannot write, and a folder it cannot create them
  in, before SQLite touches them.
- `ShmWatch.check()`, called before and after each use of a connection, looks at the -shm
  (one `stat`, about a microsecond): a file that grew is noted; one that shrank is put back
  to its size (the lost pages read as zeros, so SQLite sees an invalid WAL index and
  rebuilds it from the WAL, as after a crash) and reported; one that was deleted or
  replaced, or cannot be put back, raises `StorageFault` and the connection is left alone.
  Only a change in the microseconds between a check and the call can still hit the
  mapping; keep the folder writable by the server's user alone.

What this module does NOT know: which tables live in the file, HTTP, or what a fault means
to a turn (the callers decide: 503 + Retry-After, or log later).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("convrec.storage")
SIDE_FILES = ("-wal", "-shm")  # what WAL mode keeps beside a database


class StorageFault(OSError):
    """A database file changed under the server in a way SQLite cannot be trusted with; the
    text names the file and what to do. An OSError, so the logbook's retry queue takes it."""


def check_writable(path: Path) -> None:
    """Raise StorageFault if `path` or its WAL side files exist and cannot be written by this
    process, or if its folder cannot hold new side files. Nothing is created."""
    folder = path.parent if str(path.parent) else Path(".")
    for p in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)):
        if p.exists() and not os.access(p, os.W_OK):
            raise StorageFault(f"{p} is read-only for this server: make it writable by the server's "
                               "user, or pass another path")
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):  # a missing one: SQLite says so
        raise StorageFault(f"the folder {folder} is read-only for this server: SQLite keeps {path.name}-wal "
                           "and -shm beside the database; make it writable, or pass another path")


def connect(path: Path, timeout_s: float) -> tuple[sqlite3.Connection, str]:
    """A connection to `path` in autocommit mode, checked by `check_writable`, with the
    database never memory-mapped, in WAL mode when SQLite allows it. Returns it and the
    journal mode SQLite granted ("wal", or e.g. "memory" for ":memory:")."""
    check_writable(path)
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA mmap_size = 0")  # no mmap of the database file: I/O errors stay errors
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except BaseException:
        db.close()
        raise
    return db, mode


class ShmWatch:
    """Guards one connection's use of `<db>-shm`: call `check()` before and after each use.

    Not thread-safe on its own: call it under the lock that serialises the connection."""

    def __init__(self, path: Path) -> None:
        self.shm = Path(f"{path}-shm")
        self._seen: tuple[int, int, int] | None = None  # (device, inode, size) after the last use
        self.restored = 0  # times the -shm had shrunk and was put back
        self.last_fault: str | None = None

    def check(self) -> None:
        try:
            st = os.stat(self.shm)
        except FileNotFoundError:
            st = None
        except OSError as e:
            self._fault(f"cannot stat {self.shm} ({e})")
        seen = self._seen
        if seen is None:  # not mapped yet: SQLite creates and sizes it on first use
            if st is not None:
                self._seen = (st.st_dev, st.st_ino, st.st_size)
            return
        if st is None or (st.st_dev, st.st_ino) != seen[:2]:
            self._fault(f"{self.shm} was deleted or replaced while the server had it open: restart the "
                        "server (another process may be writing the same database without it)")
        if st.st_size < seen[2]:
            try:  # zero pages again: SQLite rebuilds its WAL index from the WAL, as after a crash
                os.truncate(self.shm, seen[2])
            except OSError as e:
                self._fault(f"{self.shm} shrank from {seen[2]} to {st.st_size} bytes under the server and "
                            f"cannot be restored ({e}): make it writable, or restart the server")
            self.restored += 1
            self.last_fault = (f"{self.shm} shrank from {seen[2]} to {st.st_size} bytes under the server; "
                               "restored (keep the folder writable by the server's user alone)")
            log.error("%s", self.last_fault)
            return
        self._seen = (st.st_dev, st.st_ino, st.st_size)

    def forget(self) -> None:
        """The connection was closed: the next one starts a fresh mapping."""
        self._seen = None

    def _fault(self, text: str) -> None:
        self.last_fault = text
        log.error("%s", text)
        raise StorageFault(text)
