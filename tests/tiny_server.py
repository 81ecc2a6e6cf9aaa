"""`python -m tests.tiny_server [launch.py flags]`: launch.py's own `serve` over the tiny
bot (12 items, hashing encoder): the real server process, up in seconds, no weights.

CONVREC_TINY_TURN_MS=200 adds that much sleep to every turn, standing in for a real
encoder's time (which, like a sleep, releases the GIL): for benchmarks/load.py.
"""

from __future__ import annotations

import os
import sys
import time

from launch import parse_args, serve
from tests.helpers import tiny_bot


def slowed(bot, ms: float):
    respond = bot.respond

    def slow_respond(*args, **kwargs):
        time.sleep(ms / 1000)
        return respond(*args, **kwargs)
    bot.respond = slow_respond
    return bot


if __name__ == "__main__":
    bot = tiny_bot(k=3)
    ms = float(os.environ.get("CONVREC_TINY_TURN_MS", "0"))
    sys.exit(serve(slowed(bot, ms) if ms > 0 else bot, parse_args(sys.argv[1:])))
