"""Nearest training contexts: score items by what was named after the most similar requests.

For a query (a context embedding) the `k` most similar training contexts (cosine) vote
for the items named after them, each vote weighted by its cosine (negative cosines do
not vote). Where the text encoder and the catalog head map a request into the item
space, this reads the training dialogues themselves: "people who asked like this were
answered with ...".

Knows nothing of dialogues or files beyond its own artifact: vectors and rows in,
scores out. Saved as an npz + manifest (never pickled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from retrieval.artifacts import check_manifest, write_manifest

KIND = "context-neighbours"


class ContextNeighbours:
    def __init__(self, queries: np.ndarray, answers: sp.csr_matrix) -> None:
        if len(queries) != answers.shape[0]:
            raise ValueError(f"{len(queries)} training queries but {answers.shape[0]} answer rows")
        self.queries = queries.astype(np.float32)  # (n_train, dim), unit rows
        self.answers = answers.tocsr().astype(np.float32)  # (n_train, n_items), 1 = named after it

    @classmethod
    def fit(cls, queries: np.ndarray, answers: Sequence[Sequence[int]], n_items: int) -> "ContextNeighbours":
        rows = [i for i, a in enumerate(answers) for _ in a]
        cols = [int(r) for a in answers for r in a]
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(answers), n_items))
        m.data[:] = 1.0  # an item named twice after one context still votes once
        return cls(queries, m)

    def scores(self, queries: np.ndarray, k: int = 50) -> np.ndarray:
        """float32 (n_queries, n_items): sum over the k nearest training contexts of
        max(cosine, 0) * [item named after it]."""
        n_train = len(self.queries)
        if n_train == 0 or len(queries) == 0:
            return np.zeros((len(queries), self.answers.shape[1]), np.float32)
        sim = queries.astype(np.float32) @ self.queries.T
        k = min(k, n_train)
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        rows = np.repeat(np.arange(len(sim)), k)
        weights = np.maximum(sim[np.arange(len(sim))[:, None], top], 0.0).ravel()
        w = sp.csr_matrix((weights, (rows, top.ravel())), shape=sim.shape)
        return np.asarray((w @ self.answers).todense(), dtype=np.float32)

    # --- artifacts ---------------------------------------------------------------------
    def save(self, folder: Path, fingerprints: dict[str, str], config: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        a = self.answers.tocoo()
        np.savez(folder / "neighbours.npz", queries=self.queries, rows=a.row.astype(np.int64),
                 cols=a.col.astype(np.int64), n_items=np.int64(self.answers.shape[1]))
        write_manifest(folder, KIND, fingerprints, config)

    @classmethod
    def load(cls, folder: Path, fingerprints: dict[str, str]) -> "ContextNeighbours":
        check_manifest(folder, KIND, fingerprints)
        with np.load(folder / "neighbours.npz", allow_pickle=False) as z:
            m = sp.csr_matrix((np.ones(len(z["rows"]), np.float32), (z["rows"], z["cols"])),
                              shape=(len(z["queries"]), int(z["n_items"])))
            return cls(z["queries"], m)
