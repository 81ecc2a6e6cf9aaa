"""One recommendation request: candidates from text and CF, fusion, optional MMR, top k.

Pipeline (`pool` then `order`, also used by the offline benchmark and the tuner):
1. candidates: FAISS top-N by text, plus CF's own top-N when the CF scores come from a
   history with something liked in it (so a strong taste match is not lost for lack of
   words); with no history, or dislikes alone, the pool is text-only and popularity
   merely re-weights it (a dislike never pulls items in; the bot drops the item itself);
   banned genres and a year range filter the catalog before the search;
2. both sources are scored on the whole pool and fused by a `Fuser` (fusion/fuse.py);
3. optionally MMR re-ranks the best `mmr_pool` fused items for variety (fusion/mmr.py).

Knows nothing of chat: the bot turns a conversation into a `Query` and renders the
`Recommendation`s this returns.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from fusion.cf import CFModel, CFScores, History
from fusion.fuse import Fuser, WeightedFuser
from fusion.mmr import mmr
from retrieval.records import Item, Query
from retrieval.retriever import Retriever

WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FusionConfig:
    alpha: float = 0.7  # text weight of the fallback fixed-α fuser (no tuned strategy)
    n_candidates: int = 200  # FAISS candidates fused per turn (issue: N >= 100)
    n_cf_candidates: int = 200  # CF's own top-N added to the pool when there is a history
    like_weight: float = 1.5  # a like said in chat ~ a rating 1.5 stars above one's mean
    dislike_weight: float = -1.0  # pushes away items liked by the same audience
    mmr_lambda: float | None = None  # None: no diversity re-ranking; 1.0 = same as None
    mmr_pool: int = 100  # MMR chooses among the best fused items only (keeps relevance)


@dataclass(frozen=True)
class Recommendation:
    """A ranked item and the evidence that ranked it (for the reason and the API)."""

    item: Item
    rank: int
    score: float
    text: float  # text part before weighting (normalised; see fusion/fuse.py)
    cf: float  # CF part before weighting
    alpha: float  # text weight used for this query: score = alpha*text + (1-alpha)*cf
    similarity: float  # raw cosine between query and item text
    cf_source: str  # "history" or "popularity"
    evidence: Item | None  # history item whose similarity contributed most to cf
    popularity_count: int  # interactions of this item in the CF data
    strategy: str = ""  # the fuser that ranked it, e.g. "adaptive" (for the API and logs)


@dataclass(frozen=True)
class Pool:
    """Candidates of one request with both sources' raw scores, aligned by position."""

    rows: np.ndarray  # int64 (n,)
    similarity: np.ndarray  # float32 (n,): cosine(query, item text)
    cf: CFScores  # scores/evidence (n,)
    n_liked: int  # liked items in the history: the evidence count for adaptive fusion


@dataclass(frozen=True)
class Ranking:
    pool: Pool
    order: np.ndarray  # int64 (k,): positions in the pool, best first
    fused: np.ndarray  # float32 (n,) fused score of every pool entry
    text: np.ndarray  # float32 (n,) text part
    cf: np.ndarray  # float32 (n,) CF part
    alpha: float

    @property
    def rows(self) -> np.ndarray:
        return self.pool.rows[self.order]


class Recommender:
    def __init__(self, retriever: Retriever, cf: CFModel, config: FusionConfig = FusionConfig(),
                 fuser: Fuser | None = None) -> None:
        self.retriever = retriever
        self.catalog = retriever.catalog
        self.cf = cf
        self.config = config
        # The tuned strategy's fuser when fusion/build.py found one, else fixed α.
        self.fuser: Fuser = fuser if fuser is not None else WeightedFuser(config.alpha)

    def history(self, query: Query) -> History:
        """The user's rated history (if a known user) plus this session's likes/dislikes."""
        base = self.cf.user_history(query.user_id) if query.user_id else History.empty()
        rows = [self.catalog.row(i) for i in query.liked_ids + query.disliked_ids]
        weights = ([self.config.like_weight] * len(query.liked_ids)
                   + [self.config.dislike_weight] * len(query.disliked_ids))
        return base.merged(History(np.array(rows, np.int64), np.array(weights, np.float32)))

    @functools.cached_property
    def _item_terms(self) -> list[frozenset[str]]:
        """Per item: its lower-case genres and title words (what a ban matches)."""
        return [frozenset({g.lower() for g in it.genres} | set(WORD.findall(it.title.lower())))
                for it in self.catalog.items]

    @functools.cached_property
    def _item_years(self) -> np.ndarray:
        return np.array([-1 if it.year is None else it.year for it in self.catalog.items], np.int64)

    def allowed_rows(self, query: Query) -> np.ndarray | None:
        """bool (n_items,) mask of the items the query's filters let through (banned
        genre/title words, release years); None when it has no filter."""
        banned = frozenset(t.lower() for t in query.banned_terms)
        if not banned and query.years is None:
            return None
        mask = np.ones(len(self.catalog), bool)
        if banned:
            mask &= np.array([not (terms & banned) for terms in self._item_terms])
        if query.years is not None:
            first, last = query.years
            years = self._item_years  # -1 for an unknown year: below any bound, so left out
            mask &= years >= (first if first is not None else 0)
            mask &= years <= (last if last is not None else 10_000)
        return mask

    def pool(self, query_vector: np.ndarray, history: History, excluded: set[int] | frozenset[int] = frozenset(),
             allowed: np.ndarray | None = None) -> Pool:
        """Text top-N ∪ (liked-history-based) CF top-N, minus excluded rows and rows the
        `allowed` mask (see `allowed_rows`) leaves out."""
        cfg = self.config

        keep = np.ones(len(self.catalog), bool) if allowed is None else allowed.copy()
        keep[list(excluded)] = False
        # Over-fetch so that dropping shown items still leaves N candidates.
        only = None if allowed is None else np.flatnonzero(allowed)
        _, rows = self.retriever.index.search(query_vector[None, :], cfg.n_candidates + len(excluded) + 100, only)
        rows = rows[0][rows[0] >= 0]
        cand = text_rows = rows[keep[rows]][: cfg.n_candidates]
        cf = None
        if history.n_liked() == 0:
            history = History.empty()  # dislikes alone: no taste to fold in, popularity it is
        if len(history) and cfg.n_cf_candidates > 0:
            full = self.cf.score(history, np.arange(len(self.catalog), dtype=np.int64))
            if full.source == "history":
                order = np.argsort(-full.scores, kind="stable")
                extra = order[keep[order]][: cfg.n_cf_candidates]
                cand = np.array(list(dict.fromkeys(text_rows.tolist() + extra.tolist())), np.int64)
                cf = CFScores(full.scores[cand], full.evidence_rows[cand], full.source)
        if cf is None:
            cf = self.cf.score(history, cand)
        similarity = (self.retriever.item_vectors[cand] @ query_vector).astype(np.float32)
        return Pool(cand, similarity, cf, history.n_liked())

    def candidates(self, query: Query) -> Pool:
        """The query's pool: its texts embedded, its history, minus what it excludes (shown,
        liked and disliked items) and what its filters leave out."""
        excluded = {self.catalog.row(i) for i in
                    query.exclude_ids + query.liked_ids + query.disliked_ids if i in self.catalog}
        qvec = self.retriever.query_vector(query.texts, query.weights())
        return self.pool(qvec, self.history(query), excluded, self.allowed_rows(query))

    def order(self, pool: Pool, k: int, fuser: Fuser, mmr_lambda: float | None = None) -> Ranking:
        """Fuse the pool's scores and pick the top k (MMR-re-ranked when λ is given)."""
        parts = fuser.fuse(pool.similarity, pool.cf.scores, pool.n_liked)
        if mmr_lambda is None or mmr_lambda >= 1.0 or len(pool.rows) == 0:
            order = np.argsort(-parts.fused, kind="stable")[:k]
        else:
            top = np.argsort(-parts.fused, kind="stable")[: max(self.config.mmr_pool, k)]
            vectors = self.retriever.item_vectors[pool.rows[top]]
            order = top[mmr(parts.fused[top], vectors, k, mmr_lambda)]
        return Ranking(pool, order.astype(np.int64), parts.fused, parts.text, parts.cf, parts.alpha)

    def recommend(self, query: Query) -> list[Recommendation]:
        if query.alpha is not None and not 0.0 <= query.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {query.alpha}")
        if query.k < 1:
            raise ValueError(f"k must be at least 1, got {query.k}")
        # An explicit α (the UI slider, the API's "alpha") means fixed-α min-max fusion.
        fuser = self.fuser if query.alpha is None else WeightedFuser(query.alpha)
        pool = self.candidates(query)
        if len(pool.rows) == 0:
            return []
        ranking = self.order(pool, query.k, fuser, self.config.mmr_lambda)
        counts = getattr(self.cf, "counts", None)
        kind = str(fuser.describe().get("kind", ""))
        out = []
        for rank, j in enumerate(ranking.order, start=1):
            row, ev = int(pool.rows[j]), int(pool.cf.evidence_rows[j])
            out.append(Recommendation(
                item=self.catalog.items[row], rank=rank, score=float(ranking.fused[j]),
                text=float(ranking.text[j]), cf=float(ranking.cf[j]), alpha=ranking.alpha,
                similarity=float(pool.similarity[j]), cf_source=pool.cf.source,
                evidence=self.catalog.items[ev] if ev >= 0 else None,
                popularity_count=int(counts[row]) if counts is not None else 0, strategy=kind))
        return out
