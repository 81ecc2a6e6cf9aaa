"""Collaborative filtering: score candidate items from a history of liked/rated items.

Every model here follows one contract (`CFModel`): `fit(interactions, n_items)`, `score(
history, candidate_rows)`, `save(folder, catalog, interactions)` / `load(...)` as arrays in
`.npy/.npz` plus a manifest (no pickle). A history is any list of catalog rows with signed
weights: a known user's ratings or an anonymous chat session, folded in at scoring time.

- `ItemKNN`: cosine item-item similarity over users' ratings.
- `EASE` (fusion/ease.py): closed-form item-item regression (Steck 2019).
- `ALS` (fusion/als.py): implicit-feedback matrix factorisation via `implicit`.
- `Popularity`: the number of ratings, log-damped. Every model falls back to it for an
  empty history, so the bot's "popular: N ratings" reason stays true. An item rated fewer
  than `MIN_POPULARITY_COUNT` times gets no popularity at all (score 0, count reported 0).
- `NoInteractions`: a catalog without an interaction log (a new shop): every score 0,
  source "none", so the pipeline ranks by text alone and no reason cites ratings.

Evidence: for each candidate, the history item with the largest positive contribution to
its score, kept only when at least one user rated both items, so that the bot's reason
"liked by the same people as X" is a checkable statement; else -1 (the bot then says
nothing about taste). This module does not know about text, fusion or chat.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from retrieval.artifacts import StaleArtifactError, check_manifest, read_manifest, write_manifest
from retrieval.records import Catalog, Interactions

KIND = "cf-itemknn"  # manifest kind of ItemKNN (kept from the first slice)
# Version of the files in a CF folder; 2 = `Ratings` arrays shared by all models. A folder
# of another format is refitted by fusion/build.py (seconds), never misread.
CF_FORMAT = 2
# Ratings an item needs before it counts as popular at all: below it, popularity is 0 and
# `popular_counts` reports 0, so one or two ratings never lift an item or become the
# reason "popular: 1 ratings" (a shop's first reviews are anecdotes, not popularity).
MIN_POPULARITY_COUNT = 5
# CF sources that say nothing about the history (the same list for everyone): their
# scores never bring candidates of their own (fusion/recommender.py).
NO_EVIDENCE_SOURCES = ("popularity", "none")


@dataclass(frozen=True)
class History:
    """Items with signed weights (liked > 0, disliked < 0), as catalog rows."""

    item_rows: np.ndarray  # int64 (h,)
    weights: np.ndarray  # float32 (h,)

    @staticmethod
    def empty() -> "History":
        return History(np.zeros(0, np.int64), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.item_rows)

    def n_liked(self) -> int:
        """Number of positively weighted items: the evidence an adaptive fuser counts."""
        return int((self.weights > 0).sum())

    def merged(self, other: "History") -> "History":
        return History(np.concatenate([self.item_rows, other.item_rows]),
                       np.concatenate([self.weights, other.weights]).astype(np.float32))


@dataclass(frozen=True)
class CFScores:
    scores: np.ndarray  # float32 (n,), higher = better
    evidence_rows: np.ndarray  # int64 (n,), history row that contributed most, -1 if none
    source: str  # "history" or "popularity"


# Relative margin under the N-th pre-score within which rows are re-scored exactly: the
# pre-score (a sparse weighted sum) and the score (the dense row sums) differ in float32
# rounding only (~1e-6 relative), far inside it.
TOP_MARGIN = 1e-3


def stable_top(scores: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """int64: the first `n` rows of `np.argsort(-scores, kind="stable")` that `keep`
    (bool (n_items,)) lets through, without sorting every row: best score first, equal
    scores in row order. O(n_items) via np.partition."""
    idx = np.flatnonzero(keep)
    neg = -scores[idx]
    if n >= len(idx):
        return idx[np.argsort(neg, kind="stable")]
    kth = np.partition(neg, n - 1)[n - 1]
    above = np.flatnonzero(neg < kth)
    tie = np.flatnonzero(neg == kth)[: n - len(above)]
    return idx[np.concatenate([above[np.argsort(neg[above], kind="stable")], tie])].astype(np.int64)


def top_rows(model: "CFModel", history: "History", n: int,
             keep: np.ndarray) -> tuple[np.ndarray | None, "CFScores | None", bool]:
    """(the model's own top-`n` candidates among `keep` for a non-empty history, CF
    scores of those rows (a `top` method) or of every row (dense), whether dense): the first n rows of
    the stable descending order of `model.score(history, every row)`; rows None when its
    scores carry no evidence about the history (popularity: the same for everyone). A
    model with a `top` method (item-kNN) answers itself without scoring every row; any
    other is scored densely, as before."""
    fast = getattr(model, "top", None)
    if fast is not None:
        found = fast(history, n, keep)
        return (None, None, False) if found is None else (*found, False)
    full = model.score(history, np.arange(len(keep), dtype=np.int64))
    if full.source in NO_EVIDENCE_SOURCES:
        return None, full, True
    return stable_top(full.scores, keep, n), full, True


def popular_counts(counts: np.ndarray) -> np.ndarray:
    """int64 (n_items,): the interaction counts that may be called popular, 0 for items
    under MIN_POPULARITY_COUNT (what a reason may cite)."""
    counts = np.asarray(counts, np.int64)
    return np.where(counts >= MIN_POPULARITY_COUNT, counts, 0)


def popularity_scores(counts: np.ndarray) -> np.ndarray:
    """float32 (n_items,) in [0, 1]: log-damped counts (so a few blockbusters do not
    flatten the rest), 0 under MIN_POPULARITY_COUNT and everywhere when none reaches it."""
    logc = np.log1p(popular_counts(counts).astype(np.float32))
    return (logc / max(float(logc.max(initial=0.0)), 1e-12)).astype(np.float32)


class CFModel(Protocol):
    name: str
    counts: np.ndarray  # int64 (n_items,): interactions per item (the "popular" reason)

    def user_history(self, user_id: str) -> History: ...

    def knows_user(self, user_id: str) -> bool: ...

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores: ...

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None: ...


@dataclass(frozen=True)
class Ratings:
    """The interaction log as matrices, shared by every model.

    `ui` (n_users, n_items) float32 raw ratings; `taste` the same users' ratings above their
    own mean (>0 only), so a known user's history holds what *they* liked.
    """

    users: list[str]
    ui: sp.csr_matrix
    taste: sp.csr_matrix
    counts: np.ndarray  # int64 (n_items,)

    @classmethod
    def build(cls, interactions: Interactions, n_items: int) -> "Ratings":
        users = interactions.users()
        col = {u: i for i, u in enumerate(users)}
        urows = np.array([col[u] for u in interactions.user_ids], dtype=np.int64)
        ui = sp.csr_matrix((interactions.weights.astype(np.float32), (urows, interactions.item_rows)),
                           shape=(len(users), n_items), dtype=np.float32)
        ui.sum_duplicates()
        means = np.asarray(ui.sum(1)).ravel() / np.maximum(np.diff(ui.indptr), 1)
        taste = ui.copy()
        taste.data = np.maximum(taste.data - np.repeat(means, np.diff(ui.indptr)), 0).astype(np.float32)
        taste.eliminate_zeros()
        counts = np.bincount(interactions.item_rows, minlength=n_items).astype(np.int64)
        return cls(users, ui, taste.tocsr(), counts)

    def save(self, folder: Path) -> None:
        sp.save_npz(folder / "ratings.npz", self.ui)
        sp.save_npz(folder / "user_taste.npz", self.taste)
        np.save(folder / "counts.npy", self.counts)
        np.save(folder / "users.npy", np.array(self.users, dtype=np.str_))

    @classmethod
    def load(cls, folder: Path) -> "Ratings":
        return cls(np.load(folder / "users.npy", allow_pickle=False).tolist(),
                   sp.load_npz(folder / "ratings.npz").tocsr(),
                   sp.load_npz(folder / "user_taste.npz").tocsr(),
                   np.load(folder / "counts.npy", allow_pickle=False))


class _Base:
    """User lookup, popularity fallback and the co-rating check, common to every model."""

    name = "base"

    def __init__(self, ratings: Ratings) -> None:
        self.ratings = ratings
        self.counts = ratings.counts
        self.users = ratings.users
        self.user_col = {u: i for i, u in enumerate(ratings.users)}
        self.popularity = popularity_scores(self.counts)  # [0, 1]; 0 under MIN_POPULARITY_COUNT
        rated = ratings.ui.copy()
        rated.data = np.ones_like(rated.data)
        self._rated_iu = rated.T.tocsr()  # (n_items, n_users) 0/1: who rated what

    def knows_user(self, user_id: str) -> bool:
        return user_id in self.user_col

    def user_history(self, user_id: str) -> History:
        if user_id not in self.user_col:
            return History.empty()
        row = self.ratings.taste[self.user_col[user_id]]
        return History(row.indices.astype(np.int64), row.data.astype(np.float32))

    def _popular(self, candidate_rows: np.ndarray) -> CFScores:
        n = len(candidate_rows)
        return CFScores(self.popularity[candidate_rows].copy(), np.full(n, -1, np.int64), "popularity")

    def co_rated(self, candidate_rows: np.ndarray, history_rows: np.ndarray) -> np.ndarray:
        """(n, h) bool: at least one user rated both the candidate and the history item."""
        # sparse candidates times the few history rows made dense: no sparse-sparse product
        # (whose two passes cost more than the product at a thousand candidates)
        both = self._rated_iu[candidate_rows] @ self._rated_iu[history_rows].toarray().T
        return np.asarray(both) > 0

    def _evidence(self, contrib: np.ndarray, candidate_rows: np.ndarray, history: History) -> np.ndarray:
        """(n,) int64: history row with the largest positive, co-rated contribution, or -1."""
        if contrib.shape[1] == 0:
            return np.full(len(candidate_rows), -1, np.int64)
        masked = np.where(self.co_rated(candidate_rows, history.item_rows), contrib, 0.0)
        best = masked.argmax(1)
        ok = masked[np.arange(len(candidate_rows)), best] > 0
        return np.where(ok, history.item_rows[best], -1).astype(np.int64)

    def _write(self, folder: Path, kind: str, catalog: Catalog, interactions: Interactions,
               config: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.ratings.save(folder)
        write_manifest(folder, kind, fingerprints(catalog, interactions), {**config, "cf_format": CF_FORMAT})


class ItemKNN(_Base):
    """Item-item cosine CF with fold-in of any history (known user or anonymous session)."""

    name = "itemknn"

    def __init__(self, ratings: Ratings) -> None:
        super().__init__(ratings)
        iu = ratings.ui.T.tocsr()
        norms = np.sqrt(np.asarray(iu.multiply(iu).sum(1)).ravel())
        self.item_user = (sp.diags(1.0 / np.maximum(norms, 1e-12)).astype(np.float32) @ iu).tocsr()

    @classmethod
    def fit(cls, interactions: Interactions, n_items: int) -> "ItemKNN":
        return cls(Ratings.build(interactions, n_items))

    def similarity(self, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
        """Cosine similarity (len(a), len(b)) float32 between item rows."""
        return np.asarray((self.item_user[rows_a] @ self.item_user[rows_b].T).todense(), dtype=np.float32)

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        if len(history) == 0:
            return self._popular(candidate_rows)
        contrib = self.similarity(candidate_rows, history.item_rows) * history.weights[None, :]
        scores = contrib.sum(1) / max(float(np.abs(history.weights).sum()), 1e-12)
        # Cosine > 0 already means a common rater, so no separate co-rating check is needed.
        best = contrib.argmax(1)
        n = len(candidate_rows)
        evidence = np.where(contrib[np.arange(n), best] > 0, history.item_rows[best], -1)
        return CFScores(scores.astype(np.float32), evidence.astype(np.int64), "history")

    def top(self, history: History, n: int, keep: np.ndarray) -> tuple[np.ndarray, CFScores] | None:
        """`top_rows` for item-kNN without the dense (n_items, h) product: (rows, their
        CFScores). score(j) = sum_h w_h cos(j, h) = item_user[j] . taste with taste = sum_h
        w_h item_user[h], so one sparse mat-vec pre-scores every item (O(interactions),
        float32); only the rows within TOP_MARGIN of the n-th best pre-score are scored
        with `score` (so each equals the dense score bit for bit) and sorted. With fewer
        than n positive pre-scores, every row co-rated with the history is scored; rows
        that no history item's raters rated score exactly 0 and follow in row order, then
        the negative ones, as a stable sort has them."""
        if len(history) == 0:
            return None
        sub = self.item_user[history.item_rows]  # (h, n_users)
        norm = max(float(np.abs(history.weights).sum()), 1e-12)
        taste = np.asarray(sub.T @ history.weights.astype(np.float32)).ravel()
        pre = np.asarray(self.item_user @ taste).ravel() / np.float32(norm)  # (n_items,)
        idx = np.flatnonzero(keep & (pre > 0))
        if len(idx) >= n:
            vals = pre[idx]
            nth = float(-np.partition(-vals, n - 1)[n - 1])  # the n-th best pre-score
            rows = idx[vals >= nth * (1 - TOP_MARGIN)]
            scored = self.score(history, rows)
            ranked = np.lexsort((rows, -scored.scores))[:n]
            # rows left out pre-score under nth * (1 - margin); the n-th taken must score
            # clearly above that, else rounding could have swapped them: the full way below
            last = scored.scores[ranked[-1]]
            if last >= nth * (1 - TOP_MARGIN / 2) and last > 0:
                return rows[ranked], CFScores(scored.scores[ranked], scored.evidence_rows[ranked], scored.source)
        users = np.unique(sub.indices)
        mark = np.zeros(len(keep), bool)
        mark[self._user_item[users].indices] = True
        touched = np.flatnonzero(mark & keep)  # rows co-rated with a history item
        scored = self.score(history, touched)
        exact = scored.scores
        pos, neg = exact > 0, exact < 0
        nonzero = np.zeros(len(keep), bool)
        nonzero[touched[exact != 0]] = True
        out = touched[pos][np.lexsort((touched[pos], -exact[pos]))][:n]
        zeros = np.flatnonzero(keep & ~nonzero)[: max(0, n - len(out))]
        negatives = touched[neg][np.lexsort((touched[neg], -exact[neg]))]
        rows = np.concatenate([out, zeros, negatives])[:n].astype(np.int64)
        return rows, self.score(history, rows)

    @functools.cached_property
    def _user_item(self) -> sp.csr_matrix:
        """(n_users, n_items) float32: item_user transposed, kept for `top`."""
        return self.item_user.T.tocsr()

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        self._write(folder, KIND, catalog, interactions, {"model": "itemknn-cosine"})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, interactions: Interactions) -> "ItemKNN":
        check_manifest(folder, KIND, fingerprints(catalog, interactions))
        return cls(Ratings.load(folder))


class Popularity(_Base):
    """Score = log-damped number of ratings; the same list for every history."""

    name = "popularity"
    kind = "cf-popularity"

    @classmethod
    def fit(cls, interactions: Interactions, n_items: int) -> "Popularity":
        return cls(Ratings.build(interactions, n_items))

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        return self._popular(candidate_rows)

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        self._write(folder, self.kind, catalog, interactions, {"model": self.name})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, interactions: Interactions) -> "Popularity":
        check_manifest(folder, cls.kind, fingerprints(catalog, interactions))
        return cls(Ratings.load(folder))


class NoInteractions(_Base):
    """The CF model of a catalog without interactions: scores 0 for every history, source
    "none". The pipeline runs on text alone (build.py sets alpha = 1) until a log is given."""

    name = "none"
    kind = "cf-none"

    @classmethod
    def fit(cls, interactions: Interactions, n_items: int) -> "NoInteractions":
        return cls(Ratings.build(interactions, n_items))

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        n = len(candidate_rows)
        return CFScores(np.zeros(n, np.float32), np.full(n, -1, np.int64), "none")

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        self._write(folder, self.kind, catalog, interactions, {"model": self.name})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, interactions: Interactions) -> "NoInteractions":
        check_manifest(folder, cls.kind, fingerprints(catalog, interactions))
        return cls(Ratings.load(folder))


def fingerprints(catalog: Catalog, interactions: Interactions) -> dict[str, str]:
    return {"catalog": catalog.fingerprint(), "interactions": interactions.fingerprint()}


# --- one factory ---------------------------------------------------------------------
MODELS = ("itemknn", "ease", "als", "popularity", "none")


def gpu_available() -> bool:
    """True when implicit was built with CUDA and a device is visible (checked on call,
    never at import)."""
    try:
        import implicit.gpu

        return bool(implicit.gpu.HAS_CUDA)
    except ImportError:
        return False


def make_cf(name: str, interactions: Interactions, n_items: int, use_gpu: bool | None = None,
            **params: Any) -> CFModel:
    """Fit the CF model called `name` (one of MODELS). `use_gpu=None` picks the GPU when
    one is usable (ALS through implicit.gpu, EASE through torch.cuda), else the CPU; the
    fitted model always scores on the CPU (one history at a time is cheap)."""
    if name == "itemknn":
        return ItemKNN.fit(interactions, n_items)
    if name == "popularity":
        return Popularity.fit(interactions, n_items)
    if name == "none":
        return NoInteractions.fit(interactions, n_items)
    if name == "ease":
        from fusion.ease import EASE, EASEConfig

        return EASE.fit(interactions, n_items, EASEConfig(**params), use_gpu=use_gpu)
    if name == "als":
        from fusion.als import ALS, ALSConfig

        gpu = gpu_available() if use_gpu is None else use_gpu
        return ALS.fit(interactions, n_items, ALSConfig(**params), use_gpu=gpu)
    raise ValueError(f"unknown CF model {name!r}; choose one of {', '.join(MODELS)}")


def model_kind(name: str) -> str:
    return {"itemknn": KIND, "popularity": Popularity.kind, "none": NoInteractions.kind, "ease": "cf-ease",
            "als": "cf-als"}[name]


def stored_model_matches(folder: Path, name: str, params: dict[str, Any]) -> bool:
    """Whether `folder` holds model `name` in the current format with these params (a
    subset of its config); False for a missing or other folder, so the caller refits."""
    try:
        manifest = read_manifest(folder)
    except StaleArtifactError:
        return False
    cfg = manifest.get("config", {})
    return (manifest.get("kind") == model_kind(name) and cfg.get("cf_format") == CF_FORMAT
            and all(cfg.get(k) == v for k, v in params.items()))


def load_cf(folder: Path, catalog: Catalog, interactions: Interactions) -> CFModel:
    """Load whichever model the folder's manifest names."""
    kind = read_manifest(folder).get("kind")
    if kind == KIND:
        return ItemKNN.load(folder, catalog, interactions)
    if kind == Popularity.kind:
        return Popularity.load(folder, catalog, interactions)
    if kind == NoInteractions.kind:
        return NoInteractions.load(folder, catalog, interactions)
    if kind == "cf-ease":
        from fusion.ease import EASE

        return EASE.load(folder, catalog, interactions)
    if kind == "cf-als":
        from fusion.als import ALS

        return ALS.load(folder, catalog, interactions)
    raise StaleArtifactError(f"{folder}: unknown CF model kind {kind!r}; "
                             "delete the folder or run launch.py with --rebuild")
