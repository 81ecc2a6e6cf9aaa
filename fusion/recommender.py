"""One recommendation request: text candidates from retrieval, CF scores, fusion, top k.

Knows nothing of chat: the bot turns a conversation into a `Query` and renders the
`Recommendation`s this returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from fusion.cf import CFModel, History
from fusion.fuse import weighted_fusion
from retrieval.records import Item, Query
from retrieval.retriever import Retriever

WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FusionConfig:
    alpha: float = 0.7  # weight of text; tuned per catalog in later work
    n_candidates: int = 200  # FAISS candidates fused per turn (issue: N >= 100)
    like_weight: float = 1.5  # a like said in chat ~ a rating 1.5 stars above one's mean
    dislike_weight: float = -1.0  # pushes away items liked by the same audience


@dataclass(frozen=True)
class Recommendation:
    """A ranked item and the evidence that ranked it (for the reason and the API)."""

    item: Item
    rank: int
    score: float
    text: float  # normalised text score in [0, 1]
    cf: float  # normalised CF score in [0, 1]
    alpha: float
    similarity: float  # raw cosine between query and item text
    cf_source: str  # "history" or "popularity"
    evidence: Item | None  # history item whose similarity contributed most to cf
    popularity_count: int  # interactions of this item in the CF data


class Recommender:
    def __init__(self, retriever: Retriever, cf: CFModel, config: FusionConfig = FusionConfig()) -> None:
        self.retriever = retriever
        self.catalog = retriever.catalog
        self.cf = cf
        self.config = config

    def history(self, query: Query) -> History:
        """The user's rated history (if a known user) plus this session's likes/dislikes."""
        base = self.cf.user_history(query.user_id) if query.user_id else History.empty()
        rows = [self.catalog.row(i) for i in query.liked_ids + query.disliked_ids]
        weights = ([self.config.like_weight] * len(query.liked_ids)
                   + [self.config.dislike_weight] * len(query.disliked_ids))
        return base.merged(History(np.array(rows, np.int64), np.array(weights, np.float32)))

    def _allowed(self, item: Item, banned: frozenset[str]) -> bool:
        if not banned:
            return True
        words = {g.lower() for g in item.genres} | set(WORD.findall(item.title.lower()))
        return not (words & banned)

    def recommend(self, query: Query) -> list[Recommendation]:
        cfg = self.config
        alpha = cfg.alpha if query.alpha is None else query.alpha
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if query.k < 1:
            raise ValueError(f"k must be at least 1, got {query.k}")
        excluded = {self.catalog.row(i) for i in
                    query.exclude_ids + query.liked_ids + query.disliked_ids if i in self.catalog}
        banned = frozenset(t.lower() for t in query.banned_terms)
        # Over-fetch so that filtering shown/banned items still leaves N candidates.
        cands = self.retriever.search(query.texts, cfg.n_candidates + len(excluded) + 100, query.weights())
        keep = [i for i, r in enumerate(cands.item_rows)
                if r not in excluded and self._allowed(self.catalog.items[r], banned)][: cfg.n_candidates]
        rows, sims = cands.item_rows[keep], cands.text_scores[keep]
        if len(rows) == 0:
            return []
        cf = self.cf.score(self.history(query), rows)
        fused, t, c = weighted_fusion(sims, cf.scores, alpha)
        order = np.argsort(-fused, kind="stable")[: query.k]
        counts = getattr(self.cf, "counts", None)
        return [
            Recommendation(
                item=self.catalog.items[rows[j]], rank=rank, score=float(fused[j]),
                text=float(t[j]), cf=float(c[j]), alpha=alpha, similarity=float(sims[j]),
                cf_source=cf.source,
                evidence=self.catalog.items[cf.evidence_rows[j]] if cf.evidence_rows[j] >= 0 else None,
                popularity_count=int(counts[rows[j]]) if counts is not None else 0,
            )
            for rank, j in enumerate(order, start=1)
        ]
