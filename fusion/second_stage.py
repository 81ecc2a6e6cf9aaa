"""The pipeline's second stage: which candidates the reranker sees and how it sees them.

From a scored pool (fusion/recommender.py: `Pool`, every term already computed) and its
first-stage scores, the candidates are the first stage's top N_FIRST, the top N_EXTRA
of the head, of the nearest training contexts, of the latest turn's text and of the
mention prior (each leaving out the items mentioned so far), and the items mentioned so
far. Each is described by FEATURES; the reranker (fusion/rerank.py) scores them and
they are placed above every other candidate, in its order.

Training (benchmarks/redial/second_stage.py) calls the same `features` on out-of-fold
pools, so the reranker learns from exactly what it reads when it serves. No feature
reads anything said after the turn being answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from fusion.fuse import minmax
from fusion.itemsim import FactSimilarity, TitleWords
from fusion.rerank import FeatureRows, Reranker

if TYPE_CHECKING:
    from fusion.recommender import Pool

N_FIRST, N_EXTRA = 300, 50
K_NEIGHBOURS = 50  # training contexts that vote in fusion.neighbours
EXTRA_SOURCES = ("head", "neighbours", "latest", "mentions")  # terms whose top N_EXTRA join
# Terms every pool must carry for the second stage (fusion/terms.py names); "ratings"
# (a linked ratings log) reads as zeros where the pipeline has none.
NEEDS = ("entity", "head", "neighbours", "latest", "repeat", "popularity", "mentions")
FEATURES = (
    "first_rank",  # place among the candidates, ordered by the first stage
    "first",  # first-stage score, min-max over the pool (as are the next seven)
    "text", "entity", "head", "cf", "ratings", "neighbours",
    "latest",  # cosine of the latest turn alone with the item
    "repeat",  # recency of an earlier mention (fusion/terms.py: RepeatTerm)
    "mentioned",  # 1 when mentioned earlier in the conversation
    "recommended",  # popularity prior: how often training recommenders named it
    "mentions",  # mention prior: how often training conversations mentioned it
    "n_mentioned",  # items mentioned so far in the conversation
    "facts",  # best facts cosine to an item mentioned so far
    "title",  # best title-word overlap with an item mentioned so far
)


AFTER_SECOND_STAGE = ("genre_first",)  # config entries that act on the reranked scores


def first_stage_fingerprint(config) -> str:
    """What a trained reranker depends on besides its data: the first stage whose
    candidates and scores it reads (the config without the second stage and what follows it)."""
    from retrieval.artifacts import json_fingerprint

    first = {k: v for k, v in config.with_(rerank=False).to_dict().items() if k not in AFTER_SECOND_STAGE}
    return json_fingerprint(first)


def select(first: np.ndarray, extras: Sequence[np.ndarray], banned: Sequence[int], always: Sequence[int],
           n_first: int, n_extra: int) -> np.ndarray:
    """Positions: the top `n_first` of `first` and the top `n_extra` of each score vector
    in `extras` (both leaving out `banned`), plus every position of `always`; ordered by
    `first`, best first (ties by position)."""
    def top(scores: np.ndarray, n: int) -> np.ndarray:
        s = scores.astype(np.float64, copy=True)
        s[list(banned)] = -np.inf
        n = min(n, int(np.isfinite(s).sum()))
        return np.argpartition(-s, n - 1)[:n] if n > 0 else np.zeros(0, np.int64)

    chosen = set(top(first, n_first).tolist()) | set(int(r) for r in always)
    for extra in extras:
        chosen |= set(top(extra, n_extra).tolist())
    return np.array(sorted(chosen, key=lambda r: (-float(first[r]), r)), np.int64)


class SecondStage:
    def __init__(self, reranker: Reranker | None, facts: FactSimilarity, titles: TitleWords) -> None:
        if reranker is not None and tuple(reranker.feature_names) != FEATURES:
            raise ValueError(f"the reranker reads {reranker.feature_names}, this second stage makes {FEATURES}; "
                             "retrain it")
        self.reranker, self.facts, self.titles = reranker, facts, titles

    def features(self, pool: "Pool", first: np.ndarray) -> tuple[np.ndarray, FeatureRows]:
        """(positions in the pool, their FeatureRows) for a pool whose first-stage scores are `first`."""
        missing = [n for n in NEEDS if n not in pool.terms]
        if missing or pool.request is None:
            raise ValueError(f"the second stage needs the pool's request and the terms {missing}")
        t = {"ratings": np.zeros(len(pool.rows), np.float32), **pool.terms}
        mentioned = pool.request.mentioned_rows
        earlier = np.flatnonzero(np.isin(pool.rows, mentioned))
        pos = select(first, [t[n] for n in EXTRA_SOURCES], earlier, earlier, N_FIRST, N_EXTRA)
        rows = pool.rows[pos]
        scaled = [minmax(v)[pos] for v in (first, pool.similarity, t["entity"], t["head"], pool.cf.scores,
                                            t["ratings"], t["neighbours"], t["latest"])]
        columns = [np.arange(len(pos), dtype=np.float32), *scaled, t["repeat"][pos],
                   np.isin(rows, mentioned).astype(np.float32), t["popularity"][pos], t["mentions"][pos],
                   np.full(len(pos), len(mentioned), np.float32),
                   self.facts.max_similarity(rows, mentioned), self.titles.max_overlap(rows, mentioned)]
        return pos, FeatureRows(rows, np.stack(columns, 1).astype(np.float32))

    def rerank(self, pool: "Pool", first: np.ndarray) -> np.ndarray:
        """float32 (n,): the reranked candidates above every other pool entry, in the
        reranker's order; the rest in first-stage order (min-max into [-1, 0])."""
        if self.reranker is None:
            raise ValueError("this second stage has no trained reranker")
        pos, rows = self.features(pool, first)
        out = minmax(first) - 1.0
        if len(pos):
            s = self.reranker.scores(rows)
            out[pos] = s - s.min() + 1.0
        return out.astype(np.float32)
