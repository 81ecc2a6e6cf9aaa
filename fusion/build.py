"""Assemble a `Recommender` from data and an artifact folder, building what is missing.

Layout of an artifact folder: `text/` (item vectors + FAISS index) and `cf/` (CF model),
each with its own manifest. A folder built for another catalog, interaction log or encoder
is rebuilt when `rebuild` is set, else refused with a message that says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from fusion.cf import ItemKNN
from fusion.recommender import FusionConfig, Recommender
from retrieval.artifacts import StaleArtifactError
from retrieval.encoder import Encoder
from retrieval.records import Catalog, Interactions
from retrieval.retriever import Retriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    built: tuple[str, ...]  # parts built this time ("text", "cf"); empty when all reused
    seconds: float


def load_or_build(catalog: Catalog, interactions: Interactions, encoder: Encoder, folder: Path,
                  config: FusionConfig = FusionConfig(), rebuild: bool = False,
                  progress: bool = True) -> tuple[Recommender, BuildReport]:
    start = time.perf_counter()
    built: list[str] = []
    text_dir, cf_dir = folder / "text", folder / "cf"

    def stale(part: Path) -> bool:
        return not (part / "manifest.json").exists()

    if rebuild or stale(text_dir):
        retriever = Retriever.build(catalog, encoder, progress=progress)
        retriever.save(text_dir)
        built.append("text")
    else:
        retriever = _load(lambda: Retriever.load(text_dir, catalog, encoder))
    if rebuild or stale(cf_dir):
        cf = ItemKNN.fit(interactions, len(catalog))
        cf.save(cf_dir, catalog, interactions)
        built.append("cf")
    else:
        cf = _load(lambda: ItemKNN.load(cf_dir, catalog, interactions))
    report = BuildReport(tuple(built), time.perf_counter() - start)
    return Recommender(retriever, cf, config), report


def _load(fn):
    try:
        return fn()
    except StaleArtifactError:
        raise
    except Exception as e:  # a truncated or corrupt file: say which folder to rebuild
        raise StaleArtifactError(f"could not load artifacts ({type(e).__name__}: {e}); "
                                 "run launch.py with --rebuild") from e
