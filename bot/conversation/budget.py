"""The reading budget: how much CPU one message may cost the reader before it gives up.

The reader's loops over word n-grams (titles, people, topics, series) are linear in the
message, but their constant is large, and a message written to be expensive (2,000
characters of one-letter words, of capitalised words, of "more like #2") is the worst case
of several at once. `Reader.read` runs inside `reading_budget()`; the loops call `spend()`
once per n-gram length, which raises `ReadingOverrun` when the thread has used more than
the budget. The reader then returns the act "unread" and the bot asks for a shorter
message: the person gets a polite answer, and the turn gate's slot is free again.

CPU time of the calling thread (`time.thread_time`), not wall time: four turns sharing two
cores, or a test machine under load, must not cut off an ordinary message.

Knows nothing of what is read; outside `reading_budget()`, `spend()` does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# CPU seconds one message may cost the reader: the slowest message of the fuzz
# (tests/test_budget.py, 2,000 characters of every character class) reads in about 0.15 s
# on 2 cores, an ordinary one in 2 to 20 ms; past this the turn is cut off.
READING_BUDGET_S = 0.5

_deadline: ContextVar[float | None] = ContextVar("reading_deadline", default=None)


class ReadingOverrun(RuntimeError):
    """The message cost the reader more than its budget."""


@contextmanager
def reading_budget(seconds: float | None = None) -> Iterator[None]:
    """Everything read inside may spend `seconds` (default READING_BUDGET_S) of this thread's CPU time."""
    token = _deadline.set(time.thread_time() + (READING_BUDGET_S if seconds is None else seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def spend() -> None:
    """A check point inside a reading loop: raises ReadingOverrun once over budget."""
    deadline = _deadline.get()
    if deadline is not None and time.thread_time() > deadline:
        raise ReadingOverrun("the message cost the reader more CPU time than its budget")
