"""EASE: closed-form item-item regression (Steck, "Embarrassingly Shallow Autoencoders", 2019).

B = argmin ||X − XB||² + λ||B||² with diag(B) = 0 has the closed form
P = (XᵀX + λI)⁻¹,  B = −P / diag(P) (column-wise),  B_ii = 0,
where X is the 0/1 user-item matrix. A history h with weights w scores item c as
Σ_h w_h B[h, c]; each term is that history item's contribution, so evidence is exact.

The Gram inverse is dense (m × m): on all 9,061 MovieLens items it would be ~330 MB in
float32 and a ~9k³ inversion. Items rated fewer than `min_count` times are left out of the
regression (their column of B would be learned from 1–2 users and is mostly noise): they
get CF score 0 and never serve as evidence. With min_count=3 that keeps 4,801 items (~90 MB).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fusion.cf import CFScores, History, Ratings, _Base, fingerprints
from retrieval.artifacts import check_manifest
from retrieval.records import Catalog, Interactions

KIND = "cf-ease"


@dataclass(frozen=True)
class EASEConfig:
    l2: float = 200.0  # λ: EASE's one knob; 100–500 is the usual range for ML-100k-sized data
    min_count: int = 3  # items with fewer ratings are left out of the dense Gram (see above)


class EASE(_Base):
    name = "ease"

    def __init__(self, ratings: Ratings, kept_rows: np.ndarray, B: np.ndarray, config: EASEConfig) -> None:
        super().__init__(ratings)
        self.kept_rows = kept_rows  # int64 (m,): catalog rows in the regression
        self.B = B  # float32 (m, m), zero diagonal
        self.config = config
        self.pos = np.full(len(ratings.counts), -1, np.int64)  # catalog row -> index in B, or -1
        self.pos[kept_rows] = np.arange(len(kept_rows))

    @classmethod
    def fit(cls, interactions: Interactions, n_items: int, config: EASEConfig = EASEConfig(),
            use_gpu: bool | None = None) -> "EASE":
        ratings = Ratings.build(interactions, n_items)
        kept = np.flatnonzero(ratings.counts >= config.min_count).astype(np.int64)
        X = ratings.ui[:, kept].copy()
        X.data = np.ones_like(X.data)
        G = np.asarray((X.T @ X).todense(), dtype=np.float64)
        G[np.diag_indices_from(G)] += config.l2
        P = _inverse(G, use_gpu)
        B = -P / np.diag(P)[None, :]
        B[np.diag_indices_from(B)] = 0.0
        return cls(ratings, kept, B.astype(np.float32), config)

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        if len(history) == 0:
            return self._popular(candidate_rows)
        hp, cp = self.pos[history.item_rows], self.pos[candidate_rows]
        contrib = np.zeros((len(candidate_rows), len(history)), np.float32)
        hk, ck = np.flatnonzero(hp >= 0), np.flatnonzero(cp >= 0)
        if len(hk) and len(ck):
            contrib[np.ix_(ck, hk)] = self.B[np.ix_(hp[hk], cp[ck])].T * history.weights[hk][None, :]
        scores = contrib.sum(1)
        return CFScores(scores.astype(np.float32), self._evidence(contrib, candidate_rows, history), "history")

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ease_B.npy", self.B)
        np.save(folder / "ease_rows.npy", self.kept_rows)
        self._write(folder, KIND, catalog, interactions, {"model": self.name, **asdict(self.config)})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, interactions: Interactions) -> "EASE":
        manifest = check_manifest(folder, KIND, fingerprints(catalog, interactions))
        cfg = manifest["config"]
        return cls(Ratings.load(folder), np.load(folder / "ease_rows.npy", allow_pickle=False),
                   np.load(folder / "ease_B.npy", allow_pickle=False),
                   EASEConfig(l2=cfg["l2"], min_count=cfg["min_count"]))


def _inverse(G: np.ndarray, use_gpu: bool | None) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix; on CUDA through torch when asked
    for (None: when available), else numpy on the CPU."""
    if use_gpu is not False:
        try:
            import torch

            if torch.cuda.is_available():
                return torch.linalg.inv(torch.from_numpy(G).cuda()).cpu().numpy()
        except ImportError:
            pass
        if use_gpu:
            raise RuntimeError("use_gpu=True but torch sees no CUDA device; pass use_gpu=None")
    return np.linalg.inv(G)
