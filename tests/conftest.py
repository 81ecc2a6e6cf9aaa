"""Shared tiny fixtures with known right answers; no model weights, no network."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from retrieval.encoder import HashingEncoder  # noqa: E402
from retrieval.loaders import item_text  # noqa: E402
from retrieval.facets import MOVIE, Facets  # noqa: E402
from retrieval.records import Catalog, Interactions, Item  # noqa: E402

# 12 movies in two taste groups: rows 0-5 "kids" (animation/children/comedy),
# rows 6-11 "dark" (crime/thriller/horror). Words make nearest neighbours obvious.
TINY = [
    ("m0", "Cartoon Kittens", 1995, ("Animation", "Children", "Comedy")),
    ("m1", "Cartoon Puppies", 1996, ("Animation", "Children", "Comedy")),
    ("m2", "Funny Farm Friends", 1997, ("Animation", "Children", "Comedy")),
    ("m3", "Toy Parade", 1998, ("Animation", "Children")),
    ("m4", "Family Picnic", 1999, ("Children", "Comedy")),
    ("m5", "Silly Robots", 2000, ("Animation", "Comedy", "Sci-Fi")),
    ("m6", "Midnight Heist", 1990, ("Crime", "Thriller")),
    ("m7", "Dark Alley", 1991, ("Crime", "Thriller")),
    ("m8", "Silent Killer", 1992, ("Horror", "Thriller")),
    ("m9", "Mafia Night", 1993, ("Crime", "Drama")),
    ("m10", "Haunted House", 1994, ("Horror",)),
    ("m11", "Cold Case", 1989, ("Crime", "Mystery", "Thriller")),
]


# Facets with known answers (the item texts leave them out, so text scores do not change):
# (director, cast, runtime, mpaa); m11 has none.
FACETS = {
    "m0": ("Ann Lee", (), 80, "G"), "m1": ("Ann Lee", (), 85, "G"), "m2": ("Ben Ray", (), 95, "PG"),
    "m3": ("Ben Ray", (), 90, ""), "m4": ("", (), 100, "PG"), "m5": ("", (), 88, ""),
    "m6": ("Bo Kane", ("Dee Vance",), 125, "R"), "m7": ("Bo Kane", (), 110, "R"),
    "m8": ("Cy Dorn", (), 95, "R"), "m9": ("", ("Dee Vance",), 140, "R"), "m10": ("Cy Dorn", (), 92, ""),
}


def tiny_facets(item_id: str) -> Facets:
    if item_id not in FACETS:
        return Facets()
    director, cast, runtime, mpaa = FACETS[item_id]
    people = {**({"director": (director,)} if director else {}), **({"cast": cast} if cast else {})}
    return Facets(people, {"runtime": float(runtime)}, {"mpaa": (mpaa,)} if mpaa else {})


def make_catalog() -> Catalog:
    return Catalog("tiny", tuple(Item(i, t, item_text(t, y, g), y, g, facets=tiny_facets(i)) for i, t, y, g in TINY),
                   kind=MOVIE)


def make_checkerboard(catalog: Catalog) -> Interactions:
    """Users u0-u3 rate only kids movies (rows 0-5), u4-u7 only dark ones (rows 6-11):
    item-item similarity is 1 within a group and 0 across (the known answer)."""
    users, rows, ws, ts = [], [], [], []
    for u in range(8):
        group = range(0, 6) if u < 4 else range(6, 12)
        for j, r in enumerate(group):
            users.append(f"u{u}")
            rows.append(r)
            ws.append(5.0 if (r + u) % 2 == 0 else 3.0)
            ts.append(1000 * u + j)
    return Interactions(np.array(users, dtype=object), np.array(rows, np.int64),
                        np.array(ws, np.float32), np.array(ts, np.int64))


@pytest.fixture
def tiny_catalog() -> Catalog:
    return make_catalog()


@pytest.fixture
def checkerboard(tiny_catalog: Catalog) -> Interactions:
    return make_checkerboard(tiny_catalog)


@pytest.fixture
def serving(tmp_path: Path, tiny_catalog, checkerboard) -> Path:
    """An artifact folder built for the tiny catalog (every item a candidate), as a server uses."""
    from fusion.build import load_or_build
    from fusion.config import PipelineConfig

    folder = tmp_path / "serving"
    load_or_build(tiny_catalog, checkerboard, HashingEncoder(dim=256), folder,
                  PipelineConfig(n_candidates=None), progress=False)
    return folder


@pytest.fixture
def hashing_encoder() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture
def tiny_model(tmp_path: Path, tiny_catalog) -> Path:
    """A 2-layer, 32-wide random BERT with a word-level vocabulary of the tiny catalog."""
    from transformers import BertConfig, BertModel, BertTokenizer

    words = sorted({w for t in tiny_catalog.texts() for w in re.findall(r"[a-z0-9]+", t.lower())})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    folder = tmp_path / "tiny-bert"
    BertTokenizer(vocab=vocab).save_pretrained(folder)
    import torch

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_server_process(tmp_path_factory):
    """The real server process over the tiny bot (tests/tiny_server.py), started once per
    session and shared: `tiny_server_process(None)` serves the 12 tiny items,
    `tiny_server_process("books")` (or "movies") that folder of tests/data. Sharing is safe
    for tests that open their own sessions and never stop or reconfigure the server; a test
    that kills its server starts its own (tests/helpers.py `serve_process`)."""
    from contextlib import ExitStack

    from tests.helpers import DATA, serve_process

    started: dict[str | None, str] = {}
    with ExitStack() as stack:
        def url(fixture: str | None = None) -> str:
            if fixture not in started:
                folder = tmp_path_factory.mktemp(f"server-{fixture or 'tiny'}")
                env = {"CONVREC_FIXTURE": str(DATA / fixture)} if fixture else None
                started[fixture] = stack.enter_context(serve_process(folder, env=env)).url
            return started[fixture]
        yield url


# --- the slow suite's exit ----------------------------------------------------------------
# One full `make test-slow` run here passed every test and then died with a segfault in a
# non-main thread while the interpreter tore down (Gradio/uvicorn/torch threads of the
# in-process servers); three partial runs exited cleanly. With CONVREC_HARD_EXIT=1 (set by
# `make test-slow`) the process leaves with pytest's own exit status right after the
# summary, skipping that teardown: a failed test still fails the run.
def pytest_sessionfinish(session, exitstatus):
    session.config._convrec_exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if os.environ.get("CONVREC_HARD_EXIT") == "1":
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(getattr(config, "_convrec_exit_status", 1))
