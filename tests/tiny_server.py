"""`python -m tests.tiny_server [launch.py flags]`: launch.py's own `serve` over the tiny
bot (12 items, hashing encoder): the real server process, up in seconds, no weights.
Tests start it with tests/helpers.py `serve_process`.

The tiny items are movies with made-up facets (director, cast, runtime, rating), so the UI
shows full cards (tests/test_browser.py). CONVREC_FIXTURE=tests/data/books (or
tests/data/movies) serves that catalog fixture instead, with its ratings.

For benchmarks/load.py, a turn can stand in for a real encoder's cost: CONVREC_TINY_TURN_MS
adds that much sleep (waiting, no CPU), CONVREC_TINY_TURN_WORK that many 256x256 matrix
products (CPU work that releases the GIL, as torch does: ~0.8 ms each on one core).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from launch import parse_args, serve
from tests.helpers import fixture_bot, tiny_bot

__all__ = ["fixture_bot", "slowed"]


def slowed(bot, ms: float, work: int):
    respond = bot.respond
    a = np.random.default_rng(0).random((256, 256))

    def slow_respond(*args, **kwargs):
        time.sleep(ms / 1000)
        for _ in range(work):
            a @ a
        return respond(*args, **kwargs)
    bot.respond = slow_respond
    return bot


if __name__ == "__main__":
    ms = float(os.environ.get("CONVREC_TINY_TURN_MS", "0"))
    work = int(os.environ.get("CONVREC_TINY_TURN_WORK", "0"))
    fixture = os.environ.get("CONVREC_FIXTURE")
    bot = fixture_bot(Path(fixture)) if fixture else tiny_bot(k=3)
    sys.exit(serve(slowed(bot, ms, work), parse_args(sys.argv[1:])))
