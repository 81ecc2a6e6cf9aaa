"""One limit on chat turns computed at once, shared by every front end, with a bounded queue.

`TurnGate.turn()` lets `limit` turns run; up to `queue` more wait (at most `wait_s` each);
anyone beyond that, or who waited too long, gets `Busy` at once with a `retry_after` in
seconds (the HTTP API answers 503 + Retry-After; the chat says "busy, try again"). Nothing
piles up without bound: the waiting threads are counted and capped.

`thread_budget` sizes torch / BLAS / FAISS threads so that `limit` parallel turns share the
cores instead of each spawning one thread per core (2 cores, 4 turns: 1 thread each).

What this module does NOT know: what a turn computes, HTTP, gradio.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class Busy(RuntimeError):
    """Too many turns at once; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int, what: str = "the server is busy with other conversations") -> None:
        super().__init__(f"{what}: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class GateStats:
    limit: int
    queue: int
    active: int
    waiting: int
    peak_active: int  # most turns ever computed at once: never above `limit`
    admitted: int
    rejected: int


class TurnGate:
    def __init__(self, limit: int = 2, queue: int = 16, wait_s: float = 10.0) -> None:
        if limit < 1 or queue < 0 or wait_s < 0:
            raise ValueError(f"turn gate needs limit >= 1, queue >= 0, wait_s >= 0; got {limit}, {queue}, {wait_s}")
        self.limit, self.queue, self.wait_s = limit, queue, wait_s
        self._cond = threading.Condition()
        self._active = self._waiting = self._peak = self._admitted = self._rejected = 0
        self._mean_s = 0.5  # running mean of a turn's seconds, for Retry-After; first guess

    def _retry_after(self) -> int:
        ahead = self._active + self._waiting
        return max(1, math.ceil(self._mean_s * ahead / self.limit))

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._cond:
            if self._active >= self.limit:
                if self._waiting >= self.queue:
                    self._rejected += 1
                    raise Busy(self._retry_after())
                self._waiting += 1
                try:
                    deadline = time.monotonic() + self.wait_s
                    while self._active >= self.limit:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            self._rejected += 1
                            raise Busy(self._retry_after())
                        self._cond.wait(left)
                finally:
                    self._waiting -= 1
            self._active += 1
            self._admitted += 1
            self._peak = max(self._peak, self._active)
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            with self._cond:
                self._active -= 1
                self._mean_s = 0.9 * self._mean_s + 0.1 * seconds  # smooth: one slow turn moves it a little
                self._cond.notify()

    def stats(self) -> GateStats:
        with self._cond:
            return GateStats(self.limit, self.queue, self._active, self._waiting, self._peak,
                             self._admitted, self._rejected)


def thread_budget(limit: int, cores: int | None = None) -> int:
    """Threads each turn may use so that `limit` turns at once fit the cores (at least 1)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // limit)


def apply_thread_budget(threads: int) -> None:
    """Cap torch, BLAS/OpenMP and FAISS threads of this process at `threads`."""
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    faiss.omp_set_num_threads(threads)
