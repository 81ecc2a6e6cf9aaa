"""Collaborative filtering: score candidate items from a history of liked/rated items.

`ItemKNN` scores a candidate by its cosine similarity (over users' ratings) to the items
in a history, weighted by how much each was liked; the history item contributing most is
kept as evidence for the justification. With no history, `Popularity` is the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from retrieval.artifacts import check_manifest, write_manifest
from retrieval.records import Catalog, Interactions

KIND = "cf-itemknn"


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

    def merged(self, other: "History") -> "History":
        return History(np.concatenate([self.item_rows, other.item_rows]),
                       np.concatenate([self.weights, other.weights]).astype(np.float32))


@dataclass(frozen=True)
class CFScores:
    scores: np.ndarray  # float32 (n,), higher = better
    evidence_rows: np.ndarray  # int64 (n,), history row that contributed most, -1 if none
    source: str  # "history" or "popularity"


class CFModel(Protocol):
    def user_history(self, user_id: str) -> History: ...

    def knows_user(self, user_id: str) -> bool: ...

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores: ...


class ItemKNN:
    """Item-item cosine CF with fold-in of any history (known user or anonymous session)."""

    def __init__(self, item_user: sp.csr_matrix, counts: np.ndarray, users: list[str],
                 user_rows: sp.csr_matrix) -> None:
        self.item_user = item_user  # (n_items, n_users) float32, rows L2-normalised
        self.counts = counts  # (n_items,) int64: interactions per item
        # Popularity in [0, 1]: log-damped so a few blockbusters do not flatten the rest.
        logc = np.log1p(counts.astype(np.float32))
        self.popularity = (logc / max(float(logc.max()), 1e-12)).astype(np.float32)
        self.users = users  # external user ids, index = column of item_user
        self.user_col = {u: i for i, u in enumerate(users)}
        self.user_rows = user_rows  # (n_users, n_items) float32: centred positive weights

    @classmethod
    def fit(cls, interactions: Interactions, n_items: int) -> "ItemKNN":
        users = interactions.users()
        col = {u: i for i, u in enumerate(users)}
        cols = np.array([col[u] for u in interactions.user_ids], dtype=np.int64)
        w = interactions.weights.astype(np.float32)
        ui = sp.csr_matrix((w, (cols, interactions.item_rows)), shape=(len(users), n_items),
                           dtype=np.float32)
        ui.sum_duplicates()
        iu = ui.T.tocsr()
        norms = np.sqrt(np.asarray(iu.multiply(iu).sum(1)).ravel())
        iu = sp.diags(1.0 / np.maximum(norms, 1e-12)).astype(np.float32) @ iu
        counts = np.bincount(interactions.item_rows, minlength=n_items).astype(np.int64)
        # A known user's taste: ratings above their own mean, so "liked" means liked by them.
        means = np.asarray(ui.sum(1)).ravel() / np.maximum(np.diff(ui.indptr), 1)
        taste = ui.copy()
        taste.data = np.maximum(taste.data - np.repeat(means, np.diff(ui.indptr)), 0).astype(np.float32)
        taste.eliminate_zeros()
        return cls(iu.tocsr().astype(np.float32), counts, users, taste.tocsr())

    def knows_user(self, user_id: str) -> bool:
        return user_id in self.user_col

    def user_history(self, user_id: str) -> History:
        if user_id not in self.user_col:
            return History.empty()
        row = self.user_rows[self.user_col[user_id]]
        return History(row.indices.astype(np.int64), row.data.astype(np.float32))

    def similarity(self, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
        """Cosine similarity (len(a), len(b)) float32 between item rows."""
        return np.asarray((self.item_user[rows_a] @ self.item_user[rows_b].T).todense(), dtype=np.float32)

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        n = len(candidate_rows)
        if len(history) == 0:
            return CFScores(self.popularity[candidate_rows].copy(), np.full(n, -1, np.int64), "popularity")
        contrib = self.similarity(candidate_rows, history.item_rows) * history.weights[None, :]
        scores = contrib.sum(1) / max(float(np.abs(history.weights).sum()), 1e-12)
        best = contrib.argmax(1)
        evidence = np.where(contrib[np.arange(n), best] > 0, history.item_rows[best], -1)
        return CFScores(scores.astype(np.float32), evidence.astype(np.int64), "history")

    # --- artifacts -------------------------------------------------------------------
    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        sp.save_npz(folder / "item_user.npz", self.item_user)
        sp.save_npz(folder / "user_taste.npz", self.user_rows)
        np.save(folder / "counts.npy", self.counts)
        np.save(folder / "users.npy", np.array(self.users, dtype=np.str_))
        write_manifest(folder, KIND, _fingerprints(catalog, interactions), {"model": "itemknn-cosine"})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, interactions: Interactions) -> "ItemKNN":
        check_manifest(folder, KIND, _fingerprints(catalog, interactions))
        return cls(sp.load_npz(folder / "item_user.npz").tocsr(),
                   np.load(folder / "counts.npy", allow_pickle=False),
                   np.load(folder / "users.npy", allow_pickle=False).tolist(),
                   sp.load_npz(folder / "user_taste.npz").tocsr())


def _fingerprints(catalog: Catalog, interactions: Interactions) -> dict[str, str]:
    return {"catalog": catalog.fingerprint(), "interactions": interactions.fingerprint()}
