"""`python -m tests.tiny_server [launch.py flags]`: launch.py's own `serve` over the tiny
bot (12 items, hashing encoder): the real server process, up in seconds, no weights.

CONVREC_TINY_MOVIES=1 declares the items movies and gives them made-up facets (director,
cast, runtime, rating), so the UI shows full cards (tests/test_browser.py).

For benchmarks/load.py, a turn can stand in for a real encoder's cost: CONVREC_TINY_TURN_MS
adds that much sleep (waiting, no CPU), CONVREC_TINY_TURN_WORK that many 256x256 matrix
products (CPU work that releases the GIL, as torch does: ~0.8 ms each on one core).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

import numpy as np

from launch import parse_args, serve
from retrieval.facets import MOVIE, Facets
from retrieval.records import Catalog
from tests.conftest import make_catalog
from tests.helpers import tiny_bot


def movie_catalog() -> Catalog:
    """The tiny catalog as movies with facets; names are invented, numbers vary by row."""
    directors = ("Ada Park", "Bruno Salas", "Chen Wei", "Dana Okafor")
    cast = ("Eva Lind", "Farid Haddad", "Grace Moreau", "Hugo Brandt", "Ines Duarte")
    items = tuple(replace(it, facets=Facets(
        people={"director": (directors[r % 4],), "cast": (cast[r % 5], cast[(r + 2) % 5])},
        numbers={"runtime": 85.0 + 5 * r},
        categories={"mpaa": ("G" if r < 6 else "R",)}))
        for r, it in enumerate(make_catalog().items))
    return Catalog("tiny", items, kind=MOVIE)


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
    catalog = movie_catalog() if os.environ.get("CONVREC_TINY_MOVIES") == "1" else None
    sys.exit(serve(slowed(tiny_bot(k=3, catalog=catalog), ms, work), parse_args(sys.argv[1:])))
