"""Item-item co-occurrence CF for catalogs whose only interaction log is dialogues.

Two movies that the same seekers talk about (ReDial: mentioned in one training dialogue)
are similar; a session's history (the movies mentioned so far, liked ones weighing more)
is folded in as a weighted sum of its items' similarity rows. Similarities are counts
normalised by sqrt(n_i * n_j) (cosine over dialogues), so blockbusters do not dominate.
Also a log-damped popularity prior (how often each movie was recommended in training).

Knows nothing of text, encoders or files: baskets of rows in, score vectors out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import scipy.sparse as sp

from fusion.cf import CFScores, History
from retrieval.artifacts import check_manifest, write_manifest

KIND = "cf-cooccur"


class CoOccurrence:
    def __init__(self, sim: sp.csr_matrix, counts: np.ndarray) -> None:
        self.sim = sim  # (n_items, n_items) float32, zero diagonal, symmetric
        self.counts = np.asarray(counts, np.int64)  # (n_items,) recommendations of each item
        logc = np.log1p(self.counts.astype(np.float32))
        self.popularity = (logc / max(float(logc.max()), 1e-12)).astype(np.float32)  # in [0, 1]

    @classmethod
    def fit(cls, baskets: Iterable[list[int]], n_items: int,
            recommended_rows: Iterable[int] = ()) -> "CoOccurrence":
        """`baskets`: rows that belong together (one list per dialogue);
        `recommended_rows`: one entry per recommendation, for the popularity prior."""
        rows, cols = [], []
        for b, basket in enumerate(baskets):
            for r in set(basket):
                rows.append(b)
                cols.append(r)
        n_baskets = (max(rows) + 1) if rows else 0
        bi = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                           shape=(n_baskets, n_items), dtype=np.float32)
        co = (bi.T @ bi).tocsr()
        counts = co.diagonal().astype(np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        inv = sp.diags(1.0 / np.sqrt(np.maximum(counts, 1.0))).astype(np.float32)
        sim = (inv @ co @ inv).tocsr().astype(np.float32)
        return cls(sim, np.bincount(np.fromiter(recommended_rows, np.int64), minlength=n_items)[:n_items])

    def score_all(self, history_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(n_items,) float32: sum_j weights[j] * sim[history_rows[j], :]; zeros when empty."""
        n = self.sim.shape[0]
        if len(history_rows) == 0:
            return np.zeros(n, np.float32)
        w = sp.csr_matrix((np.asarray(weights, np.float32),
                           (np.zeros(len(history_rows), np.int64), np.asarray(history_rows, np.int64))),
                          shape=(1, n))
        return np.asarray((w @ self.sim).todense(), dtype=np.float32).ravel()

    def evidence(self, history_rows: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """int64 (len(rows),): for each row, the history row with the largest positive
        contribution to its score (so the two really did occur together), -1 if none."""
        if len(history_rows) == 0:
            return np.full(len(rows), -1, np.int64)
        contrib = self.sim[np.asarray(history_rows, np.int64)][:, rows].toarray() * np.asarray(weights)[:, None]
        best = contrib.argmax(0)
        ok = contrib[best, np.arange(len(rows))] > 0
        return np.where(ok, np.asarray(history_rows, np.int64)[best], -1).astype(np.int64)

    # --- artifacts -------------------------------------------------------------------
    def save(self, folder: Path, fingerprints: dict[str, str], config: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        sp.save_npz(folder / "sim.npz", self.sim)
        np.save(folder / "counts.npy", self.counts)
        write_manifest(folder, KIND, fingerprints, config)

    @classmethod
    def load(cls, folder: Path, fingerprints: dict[str, str]) -> "CoOccurrence":
        check_manifest(folder, KIND, fingerprints)
        return cls(sp.load_npz(folder / "sim.npz").tocsr().astype(np.float32),
                   np.load(folder / "counts.npy", allow_pickle=False))


class CoOccurrenceCF:
    """`CoOccurrence` as the pipeline's CF model (the `CFModel` contract of fusion/cf.py)
    for a catalog whose interaction log is conversations: no known users; the history is
    what the conversation mentioned; an empty history scores zero (popularity is a term of
    its own, fusion/terms.py), so a new conversation is ranked by words alone."""

    name = "cooccur"
    source = "conversations"  # CFScores.source: the reason says "named in the same conversations"

    def __init__(self, model: CoOccurrence) -> None:
        self.model = model
        self.counts = model.counts

    def knows_user(self, user_id: str) -> bool:
        return False

    def user_history(self, user_id: str) -> History:
        return History.empty()

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        scores = self.model.score_all(history.item_rows, history.weights)[candidate_rows]
        return CFScores(scores, self.model.evidence(history.item_rows, history.weights, candidate_rows), self.source)
