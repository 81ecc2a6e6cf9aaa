"""The CF model and scoring terms of a pipeline whose catalog grew after they were fitted.

A live catalog update (fusion/catalog_update.py) appends items: rows past the `n_fitted`
rows a model was fitted on. They have no interactions yet, so they are cold:

- `ColdItemsCF` wraps the fitted CF model. A new item's CF score is 0, the neutral value
  of every model here (item-kNN and EASE: no co-rated item; ALS: no factors; popularity:
  fewer than MIN_POPULARITY_COUNT ratings), with no evidence; its count is 0, so no reason
  calls it popular and the "popular" prior gives it nothing. A new item in a history (a
  session liked it) says nothing to the fitted model and is left out of what it reads;
  CF's own candidates come from the fitted rows only (a cold item has no CF evidence).
- `GrownTerm` wraps a term fitted on the old rows (conversation priors, the logbook's
  co-likes): new rows score 0 and have no evidence; the request it reads is cut to the
  old rows. Terms built from the catalog itself (genres, topics, content, vectors) are
  rebuilt over the new catalog instead (fusion/catalog_update.py).

Withdrawn items need nothing here: they keep their rows and the request's filter leaves
them out of every candidate source (fusion/recommender.py `allowed_rows`).

What this module does NOT know: files, encoders or the catalog's items.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from fusion.cf import NO_EVIDENCE_SOURCES, CFScores, History, stable_top
from fusion.terms import Request
from retrieval.records import Catalog, Interactions


def _old(history: History, n_fitted: int) -> History:
    keep = history.item_rows < n_fitted
    return history if keep.all() else History(history.item_rows[keep], history.weights[keep])


class ColdItemsCF:
    """`base` (fitted on `base_rows` items; a ColdItemsCF is unwrapped) serving a catalog of
    `n_items` >= base_rows: rows past base_rows are cold (score 0, count 0, no evidence)."""

    def __init__(self, base, n_items: int) -> None:
        if isinstance(base, ColdItemsCF):
            base = base.base
        self.base = base
        self.n_fitted = len(np.asarray(base.counts))
        if n_items < self.n_fitted:
            raise ValueError(f"a CF model fitted on {self.n_fitted} items cannot serve {n_items}: rows are never dropped")
        self.n_items = n_items
        self.counts = np.concatenate([np.asarray(base.counts, np.int64),
                                      np.zeros(n_items - self.n_fitted, np.int64)])

    def describe(self) -> dict:
        inner = self.base.describe() if hasattr(self.base, "describe") else {}
        return {**inner, "cold_items": self.n_items - self.n_fitted}

    def knows_user(self, user_id: str) -> bool:
        return self.base.knows_user(user_id)

    def user_history(self, user_id: str) -> History:
        return self.base.user_history(user_id)

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        rows = np.asarray(candidate_rows, np.int64)
        old = rows < self.n_fitted
        fitted = self.base.score(_old(history, self.n_fitted), rows[old])
        scores = np.zeros(len(rows), np.float32)
        evidence = np.full(len(rows), -1, np.int64)
        scores[old], evidence[old] = fitted.scores, fitted.evidence_rows
        return CFScores(scores, evidence, fitted.source)

    def top(self, history: History, n: int, keep: np.ndarray) -> tuple[np.ndarray, CFScores] | None:
        """CF's own top-`n` among the fitted rows `keep` lets through (fusion/cf.py
        `top_rows`), with the scores of those rows; None when its scores carry no evidence."""
        history, keep = _old(history, self.n_fitted), np.asarray(keep)[: self.n_fitted]
        fast = getattr(self.base, "top", None)
        if fast is not None:
            return fast(history, n, keep)
        full = self.base.score(history, np.arange(self.n_fitted, dtype=np.int64))
        if full.source in NO_EVIDENCE_SOURCES:
            return None
        rows = stable_top(full.scores, keep, n)
        return rows, CFScores(full.scores[rows], full.evidence_rows[rows], full.source)

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        raise NotImplementedError("a grown catalog's CF model is the stored one plus cold rows: "
                                  "refit it from the interactions (launch.py --rebuild) to save it")


class GrownTerm:
    """A term fitted on the first `n_fitted` rows, over a catalog of `n_items` rows: new rows 0."""

    def __init__(self, base, n_fitted: int, n_items: int) -> None:
        if isinstance(base, GrownTerm):
            base, n_fitted = base.base, base.n_fitted
        self.base, self.n_fitted = base, n_fitted
        self.name, self.norm = base.name, base.norm
        counts = getattr(base, "counts", None)
        if counts is not None:  # a prior's raw counts, for reasons: a new item has none
            counts = np.asarray(counts)
            self.counts = np.concatenate([counts[:n_fitted], np.zeros(n_items - n_fitted, counts.dtype)])

    def _request(self, request: Request) -> Request:
        n = self.n_fitted
        mentioned = request.mentioned_rows < n
        return replace(request, history=_old(request.history, n),
                       mentioned_rows=request.mentioned_rows[mentioned], repeat=request.repeat[mentioned],
                       excluded=frozenset(r for r in request.excluded if r < n),
                       allowed=None if request.allowed is None else request.allowed[:n])

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        old = rows < self.n_fitted
        out = np.zeros(len(rows), np.float32)
        if old.any():
            out[old] = self.base.score(self._request(request), rows[old])
        return out

    def evidence(self, request: Request, rows: np.ndarray) -> np.ndarray | None:
        rows = np.asarray(rows, np.int64)
        old = rows < self.n_fitted
        found = self.base.evidence(self._request(request), rows[old])
        if found is None:
            return None
        out = np.full(len(rows), -1, np.int64)
        out[old] = found
        return out

    def __getattr__(self, name: str):
        if name == "base":  # not yet set (copy/pickle): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)
