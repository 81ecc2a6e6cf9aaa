"""`python -m tests.tiny_server [launch.py flags]`: launch.py's own `serve` over the tiny
bot (12 items, hashing encoder): the real server process, up in seconds, no weights."""

from __future__ import annotations

import sys

from launch import parse_args, serve
from tests.helpers import tiny_bot

if __name__ == "__main__":
    sys.exit(serve(tiny_bot(k=3), parse_args(sys.argv[1:])))
