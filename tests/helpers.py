"""Builders shared by bot tests: a Bot over the tiny catalog with fake encoder."""

from __future__ import annotations

from bot.chat import Bot, BotConfig
from fusion.cf import ItemKNN
from fusion.recommender import FusionConfig, Recommender
from retrieval.encoder import HashingEncoder
from retrieval.retriever import Retriever
from tests.conftest import make_catalog, make_checkerboard


def tiny_bot(k: int = 3, alpha: float = 0.7) -> Bot:
    catalog = make_catalog()
    retriever = Retriever.build(catalog, HashingEncoder(dim=256))
    cf = ItemKNN.fit(make_checkerboard(catalog), len(catalog))
    return Bot(Recommender(retriever, cf, FusionConfig(alpha=alpha, n_candidates=100)), BotConfig(k=k))
