"""Builders shared by bot tests: a Bot over the tiny catalog with fake encoder."""

from __future__ import annotations

import numpy as np

from bot.conversation.chat import Bot, BotConfig
from fusion.cf import ItemKNN
from fusion.config import PipelineConfig
from fusion.recommender import Recommender
from retrieval.encoder import HashingEncoder
from retrieval.records import Catalog, Interactions
from retrieval.retriever import Retriever
from tests.conftest import make_catalog, make_checkerboard


def tiny_bot(k: int = 3, alpha: float = 0.7, extra: tuple[tuple[str, int], ...] = (),
             catalog: Catalog | None = None) -> Bot:
    """`extra` (user, row) ratings are added to the checkerboard, e.g. to make some
    items more popular than others; `catalog` replaces the tiny one (same 12 items, e.g.
    with facets added)."""
    catalog = catalog or make_catalog()
    inter = make_checkerboard(catalog)
    if extra:
        inter = Interactions(
            np.concatenate([inter.user_ids, np.array([u for u, _ in extra], dtype=object)]),
            np.concatenate([inter.item_rows, np.array([r for _, r in extra], np.int64)]),
            np.concatenate([inter.weights, np.full(len(extra), 4.0, np.float32)]),
            np.concatenate([inter.timestamps, np.zeros(len(extra), np.int64)]))
    retriever = Retriever.build(catalog, HashingEncoder(dim=256))
    cf = ItemKNN.fit(inter, len(catalog))
    return Bot(Recommender(retriever, cf, PipelineConfig(alpha=alpha, n_candidates=100)), BotConfig(k=k))
