"""The recommendation pipeline: one request in, ranked items with their evidence out.

The chat (bot/), the offline benchmarks and the tuners all rank through this class, so a
number measured here is what a person gets. One request goes:

1. `request`: the `Query` (words, conversation, likes, filters) becomes a `Request` of
   vectors and rows: the query embedding (per-turn weighted mean, or the whole
   conversation rendered as in training, `PipelineConfig.query`), the CF history, the
   items mentioned so far and how recently, what is excluded and what the filters allow;
2. `pool`, candidate sources: FAISS text top-N (a filter is a FAISS ID selector, so a
   narrow one still gets its N best) ∪ CF top-N when the history likes something, or
   every allowed item when `n_candidates` is None (small catalogs; what a benchmark
   ranks); every scorer scores the pool: text similarity, the CF model (ratings or
   conversation co-occurrence, fusion/cf.py, fusion/cooccur.py) and each `Term`
   (fusion/terms.py: head, priors, repeat, neighbours, ...);
3. `order`: the `Fuser` (fusion/fuse.py) combines text and CF, α·text + (1−α)·CF, then
   each weighted term adds weight·normalised(term); an optional second stage
   (fusion/second_stage.py) reorders the best of the pool; items with more of the genres
   the current request asks for may go first (`genre_first`); MMR optionally diversifies.

Excluded items (already shown, liked or disliked) leave the pool before scoring, as the
"new items" protocol asks. Knows nothing of chat wording: the bot builds the `Query`
and renders the `Recommendation`s.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from fusion.cf import CFModel, CFScores, History, popular_counts, top_rows
from fusion.config import PipelineConfig, decays
from fusion.filters import ItemFilters
from fusion.fuse import Fuser, WeightedFuser, normalise
from fusion.mmr import mmr
from fusion.terms import REPEAT_DECAY, SEEKER_MENTION, Request, Term, dot_rows
from retrieval.dialogue import context_text, mentioned_ids
from retrieval.records import Item, Query
from retrieval.retriever import Retriever

EMBEDDED_TEXTS = 4096  # query texts whose embeddings are kept (~6 MB at 384 floats)


@dataclass(frozen=True)
class Recommendation:
    """A ranked item and the evidence that ranked it (for the reason and the API)."""

    item: Item
    rank: int
    score: float
    text: float  # text part before weighting (normalised; see fusion/fuse.py)
    cf: float  # CF part before weighting
    alpha: float  # text weight used for this query: first stage = alpha*text + (1-alpha)*cf + terms
    similarity: float  # raw cosine between query and item text
    cf_source: str  # "history", "conversations" or "popularity"
    evidence: Item | None  # history item whose similarity contributed most to cf
    # Interactions of this item in the CF data, 0 under fusion/cf.py MIN_POPULARITY_COUNT
    # (too few to call it popular; its popularity score is 0 as well).
    popularity_count: int
    strategy: str = ""  # the fuser that ranked it, e.g. "adaptive" (for the API and logs)
    terms: Mapping[str, float] = field(default_factory=dict)  # weighted contribution of each term
    term_evidence: Mapping[str, Item] = field(default_factory=dict)  # e.g. {"ratings": the co-liked item}
    term_counts: Mapping[str, int] = field(default_factory=dict)  # raw counts behind prior terms
    reranked: bool = False  # the second stage placed it (its score is the reranker's)


@dataclass(frozen=True)
class Pool:
    """Candidates of one request with every scorer's raw scores, aligned by position."""

    rows: np.ndarray  # int64 (n,)
    similarity: np.ndarray  # float32 (n,): cosine(query, item text)
    cf: CFScores  # scores/evidence (n,)
    n_liked: int  # liked items in the history: the evidence count for adaptive fusion
    terms: Mapping[str, np.ndarray] = field(default_factory=dict)  # name -> float32 (n,)
    request: Request | None = None


@dataclass(frozen=True)
class Ranking:
    pool: Pool
    order: np.ndarray  # int64 (k,): positions in the pool, best first
    fused: np.ndarray  # float32 (n,) final score of every pool entry
    text: np.ndarray  # float32 (n,) text part
    cf: np.ndarray  # float32 (n,) CF part
    alpha: float
    terms: Mapping[str, np.ndarray] = field(default_factory=dict)  # weighted term parts (n,)
    reranked: bool = False

    @property
    def rows(self) -> np.ndarray:
        return self.pool.rows[self.order]


def merged_scores(cf: CFModel, history: History, cand: np.ndarray, scored_rows: np.ndarray,
                  scored: CFScores) -> CFScores:
    """CFScores of `cand` from those already computed for `scored_rows`, scoring the rest."""
    at = {int(r): i for i, r in enumerate(scored_rows)}
    rest = np.array([r for r in cand.tolist() if r not in at], np.int64)
    more = cf.score(history, rest)
    scores = np.empty(len(cand), np.float32)
    evidence = np.empty(len(cand), np.int64)
    have = np.array([r in at for r in cand.tolist()], bool)
    scores[have] = scored.scores[[at[r] for r in cand[have].tolist()]]
    evidence[have] = scored.evidence_rows[[at[r] for r in cand[have].tolist()]]
    scores[~have], evidence[~have] = more.scores, more.evidence_rows
    return CFScores(scores, evidence, scored.source)


class Recommender:
    def __init__(self, retriever: Retriever, cf: CFModel, config: PipelineConfig = PipelineConfig(),
                 terms: Sequence[Term] = (), second_stage=None) -> None:
        self.retriever = retriever
        self.catalog = retriever.catalog
        self.cf = cf
        self.config = config
        self.fuser: Fuser = config.make_fuser()
        self.terms: dict[str, Term] = {t.name: t for t in terms}
        missing = [n for n, w in config.weights.items() if w and n not in self.terms]
        if config.entity_weight and "entity" not in self.terms:
            missing.append("entity")
        if config.genre_first and "genres" not in self.terms:
            missing.append("genres")
        if missing:
            raise ValueError(f"the pipeline config weighs term(s) {missing} that this pipeline was not given")
        if config.rerank and second_stage is None:
            raise ValueError("the pipeline config asks for the second stage, but none was given")
        self.second_stage = second_stage  # kept when off, so a tuner can switch it on (with_config)
        # Query-text embeddings of recent turns: a conversation re-sends every earlier turn
        # (and every liked title) each turn; the encoder is most of a turn's time.
        self._embedded: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # --- 1. the request ----------------------------------------------------------------
    def history(self, query: Query) -> History:
        """CF evidence: a known user's rated history, then what this conversation says.
        In context mode every mentioned item counts `mention_weight`; everywhere a liked one
        `like_weight`, a disliked one `dislike_weight`. Dislikes alone are no taste to
        fold in: the history is then empty (a dislike never pulls items in)."""
        cfg = self.config
        base = self.cf.user_history(query.user_id) if query.user_id else History.empty()
        mentioned = self.mentioned_ids(query) if cfg.query == "context" else ()
        ids = list(dict.fromkeys(mentioned + query.liked_ids + query.disliked_ids))
        liked, disliked = set(query.liked_ids), set(query.disliked_ids)
        weights = [cfg.like_weight if i in liked else cfg.dislike_weight if i in disliked else cfg.mention_weight
                   for i in ids]
        history = base.merged(History(self.catalog.rows(ids), np.array(weights, np.float32)))
        return history if history.n_liked() else History.empty()

    def mentioned_ids(self, query: Query) -> tuple[str, ...]:
        """Catalog items the conversation named so far, first mention first."""
        return tuple(i for i in mentioned_ids(query.context) if i in self.catalog)

    @functools.cached_property
    def filters(self) -> ItemFilters:
        """The catalog's filter indexes (term -> rows, years, facets), built on first use."""
        return ItemFilters(self.catalog)

    def allowed_rows(self, query: Query) -> np.ndarray | None:
        """bool (n_items,) mask of the items the query's filters let through (banned
        genre/title words, release years, facets) among those still available (items
        withdrawn from the catalog never are, retrieval/records.py `Catalog.available`);
        None when it has no filter and every item is available."""
        mask, available = self.filters.mask(query), self.catalog.available()
        if available is None:
            return mask
        return available.copy() if mask is None else mask & available

    def query_texts(self, query: Query) -> list[str]:
        """The texts `request` embeds: the conversation and its latest turn (context
        mode), or the query's texts (turns mode). Benchmarks encode them in batches."""
        if self.config.query == "context":
            return [context_text(query.context), context_text(query.context, 1)]
        return list(query.texts)

    def embed_queries(self, queries: Sequence[Query], progress: bool = False) -> dict[str, np.ndarray]:
        """text -> embedding of every text `request` will embed for `queries`, encoded in
        batches (what a benchmark passes to `request` as `vectors`)."""
        texts = list(dict.fromkeys(t for q in queries for t in self.query_texts(q)))
        return dict(zip(texts, self.retriever.query_encoder.encode(texts, progress=progress))) if texts else {}

    def request(self, query: Query, vectors: Mapping[str, np.ndarray] | None = None) -> Request:
        """The query as vectors and rows; `vectors` (text -> embedding) saves encoding
        texts already embedded in a batch."""
        texts = self.query_texts(query)
        known = vectors or {}
        with self._lock:  # turns run in parallel threads; encoding happens outside the lock
            todo = [t for t in dict.fromkeys(texts) if t not in known and t not in self._embedded]
        fresh = dict(zip(todo, self.retriever.query_encoder.encode(todo))) if todo else {}
        with self._lock:
            self._embedded.update(fresh)
            for t in texts:
                if t in self._embedded:
                    self._embedded.move_to_end(t)
            vec = {t: known[t] if t in known else fresh.get(t, self._embedded.get(t)) for t in texts}
            while len(self._embedded) > EMBEDDED_TEXTS:
                self._embedded.popitem(last=False)  # least recently used
        latest = None
        if self.config.query == "context":
            qvec, latest = vec[texts[0]], vec[texts[1]]
        else:
            anchors = [(self.catalog.row(a), w) for a, w in zip(query.anchor_ids, query.anchor_weight_array())
                       if a in self.catalog]
            if not texts and not anchors:
                raise ValueError("a query needs a text or an item of the catalog to start from")
            qvec = self.retriever.combine([vec[t] for t in texts] + [self.retriever.item_vectors[r] for r, _ in anchors],
                                          np.concatenate([query.weights(), np.array([w for _, w in anchors], np.float32)]))
        mentioned, repeat = self._mentions(query)
        excluded = frozenset(self.catalog.row(i) for i in query.exclude_ids + query.liked_ids + query.disliked_ids
                             if i in self.catalog)
        return Request(qvec.astype(np.float32), self.history(query), mentioned, repeat,
                       None if latest is None else latest.astype(np.float32), excluded, self.allowed_rows(query),
                       tuple(g.lower() for g in query.wanted_genres), tuple(t.lower() for t in query.wanted_topics))

    def forget_texts(self) -> None:
        """Drop the cached query-text embeddings (a benchmark replaying the same words
        would otherwise time the cache, not the encoder)."""
        with self._lock:
            self._embedded.clear()

    def _mentions(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """Rows mentioned so far and their repeat value: REPEAT_DECAY ** (turns since the
        mention), times SEEKER_MENTION when the seeker made it; the best over mentions."""
        value: dict[int, float] = {}
        n = len(query.context)
        for j, turn in enumerate(query.context):
            for item_id in turn.item_ids:
                if item_id in self.catalog:
                    r = self.catalog.row(item_id)
                    v = REPEAT_DECAY ** (n - 1 - j) * (SEEKER_MENTION if turn.seeker else 1.0)
                    value[r] = max(value.get(r, 0.0), v)
        rows = self.catalog.rows(list(self.mentioned_ids(query)))
        return rows, np.array([value[int(r)] for r in rows], np.float32)

    # --- 2. candidates and scores ------------------------------------------------------
    def pool(self, request: Request) -> Pool:
        """The request's candidates, minus excluded rows and rows the filters leave out,
        each scored by every scorer."""
        cfg = self.config
        keep = np.ones(len(self.catalog), bool) if request.allowed is None else request.allowed.copy()
        keep[list(request.excluded)] = False
        history = request.history
        if cfg.n_candidates is None:
            cand = np.flatnonzero(keep).astype(np.int64)
            cf = self.cf.score(history, cand)
        else:
            # Over-fetch so that dropping excluded items still leaves N candidates.
            _, rows = self.retriever.index.search(request.query_vector[None, :],
                                                  cfg.n_candidates + len(request.excluded) + 100, request.allowed)
            rows = rows[0][rows[0] >= 0]
            cand = text_rows = rows[keep[rows]][: cfg.n_candidates]
            cf = None
            if len(history) and cfg.n_cf_candidates > 0:
                # CF's own top-N without scoring every item (fusion/cf.py top_rows); each
                # candidate's score is computed row by row, the same as a dense pass gives
                extra, scored, dense = top_rows(self.cf, history, cfg.n_cf_candidates, keep)
                if extra is not None:
                    cand = np.array(list(dict.fromkeys(text_rows.tolist() + extra.tolist())), np.int64)
                    if dense:  # every row was scored
                        cf = CFScores(scored.scores[cand], scored.evidence_rows[cand], scored.source)
                    else:  # scores of `extra`; the text rows not among them are scored now
                        cf = merged_scores(self.cf, history, cand, extra, scored)
            if cf is None:
                cf = self.cf.score(history, cand)
        similarity = dot_rows(self.retriever.item_vectors, request.query_vector, cand)
        terms = {name: t.score(request, cand) for name, t in self.terms.items()}
        return Pool(cand, similarity, cf, history.n_liked(), terms, request)

    def candidates(self, query: Query) -> Pool:
        return self.pool(self.request(query))

    # --- 3. ranking --------------------------------------------------------------------
    def first_stage(self, pool: Pool, fuser: Fuser):
        """(FusedParts of text and CF, weighted term parts, first-stage score (n,))."""
        cfg = self.config
        text = pool.similarity
        if cfg.entity_weight:
            text = text + cfg.entity_weight * pool.terms["entity"]
        parts = fuser.fuse(text, pool.cf.scores, pool.n_liked)
        fused = parts.fused.copy()
        weighted = {}
        fade = 1.0 if cfg.term_decay is None else cfg.term_decay / (cfg.term_decay + pool.n_liked)
        for name, w in cfg.weights.items():
            if w:
                w = w * fade if decays(name) else w
                norm = self.terms[name].norm
                value = pool.terms[name] if norm == "raw" else normalise(pool.terms[name], norm)
                weighted[name] = (w * value).astype(np.float32)
                fused += weighted[name]
        return parts, weighted, fused

    def scores(self, pool: Pool, fuser: Fuser | None = None):
        """(FusedParts, weighted term parts, final float32 (n,) scores, whether reranked):
        the first stage, then the second stage when the config asks for it."""
        parts, weighted, scores = self.first_stage(pool, fuser or self.fuser)
        reranked = self.config.rerank and len(pool.rows) > 0
        if reranked:
            scores = self.second_stage.rerank(pool, scores)
        share = pool.terms.get("genres")
        if self.config.genre_first and share is not None and share.any():
            # lexicographic: a larger share of the wanted genres always ranks first; the
            # offset is a part of its own, so the score is still the sum of its parts
            weighted = {**weighted, "genres": ((float(scores.max() - scores.min()) + 1.0) * share).astype(np.float32)}
            scores = (scores + weighted["genres"]).astype(np.float32)
        return parts, weighted, scores, reranked

    def order(self, pool: Pool, k: int, fuser: Fuser, mmr_lambda: float | None = None) -> Ranking:
        """Fuse the pool's scores, rerank (second stage), pick the top k (MMR-re-ranked when λ is given)."""
        parts, weighted, scores, reranked = self.scores(pool, fuser)
        if mmr_lambda is None or mmr_lambda >= 1.0 or len(pool.rows) == 0:
            order = np.argsort(-scores, kind="stable")[:k]
        else:
            top = np.argsort(-scores, kind="stable")[: max(self.config.mmr_pool, k)]
            vectors = self.retriever.item_vectors[pool.rows[top]]
            order = top[mmr(scores[top], vectors, k, mmr_lambda)]
        return Ranking(pool, order.astype(np.int64), scores, parts.text, parts.cf, parts.alpha, weighted, reranked)

    def with_config(self, config: PipelineConfig) -> "Recommender":
        """The same components under another config (a tuner tries many)."""
        return Recommender(self.retriever, self.cf, config, list(self.terms.values()), self.second_stage)

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
        return self._explain(ranking, str(fuser.describe().get("kind", "")))

    @functools.cached_property
    def _popular_counts(self) -> np.ndarray | None:
        """popular_counts of the CF model's counts (an O(n_items) pass: once, not per turn)."""
        counts = getattr(self.cf, "counts", None)
        return None if counts is None else popular_counts(counts)

    def _explain(self, ranking: Ranking, kind: str) -> list[Recommendation]:
        pool, items = ranking.pool, self.catalog.items
        counts = self._popular_counts
        chosen = pool.rows[ranking.order]
        evidence = {name: ev for name in ranking.terms
                    if (ev := self.terms[name].evidence(pool.request, chosen)) is not None}
        priors = {name: c for name in ranking.terms if (c := getattr(self.terms[name], "counts", None)) is not None}
        out = []
        for rank, j in enumerate(ranking.order, start=1):
            row, ev = int(pool.rows[j]), int(pool.cf.evidence_rows[j])
            out.append(Recommendation(
                item=items[row], rank=rank, score=float(ranking.fused[j]),
                text=float(ranking.text[j]), cf=float(ranking.cf[j]), alpha=ranking.alpha,
                similarity=float(pool.similarity[j]), cf_source=pool.cf.source,
                evidence=items[ev] if ev >= 0 else None,
                popularity_count=int(counts[row]) if counts is not None else 0, strategy=kind,
                terms={name: float(v[j]) for name, v in ranking.terms.items()},
                term_evidence={name: items[int(e[rank - 1])] for name, e in evidence.items() if e[rank - 1] >= 0},
                term_counts={name: int(c[row]) for name, c in priors.items()},
                reranked=ranking.reranked))
        return out
