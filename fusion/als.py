"""ALS: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) via `implicit`.

Training uses implicit's CPU or GPU solver (picked by `fusion.cf.make_cf`); only the item
factors Y are kept. Any history (a known user or an anonymous chat session) is folded in
with the same least-squares step implicit uses for `recalculate_user=True`:
  A = YᵀY + λI + Σ_h (c_h − 1) y_h y_hᵀ,   b = Σ_{h liked} c_h y_h,   x = A⁻¹ b,
with confidence c_h = alpha·|w_h| (a disliked item adds confidence that its preference is
0). The score of candidate c is y_cᵀx = Σ_h c_h y_cᵀA⁻¹y_h: a sum over history items
(implicit's `explain`), so the largest term is exact evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fusion.cf import CFScores, History, Ratings, _Base, fingerprints
from retrieval.artifacts import check_manifest
from retrieval.records import Catalog, Interactions

KIND = "cf-als"


@dataclass(frozen=True)
class ALSConfig:
    factors: int = 64  # enough rank for 9k items / 671 users without memorising users
    regularization: float = 0.05  # implicit's default (0.01) overfits users with few ratings
    alpha: float = 10.0  # confidence of one rating; Hu et al. found 10–40 works for views
    iterations: int = 15  # implicit's default; the loss is flat after ~10 on ML-100k
    seed: int = 0


class ALS(_Base):
    name = "als"

    def __init__(self, ratings: Ratings, item_factors: np.ndarray, config: ALSConfig) -> None:
        super().__init__(ratings)
        self.item_factors = item_factors  # float32 (n_items, f)
        self.config = config
        self.YtY = (item_factors.T.astype(np.float64) @ item_factors).astype(np.float64)

    @classmethod
    def fit(cls, interactions: Interactions, n_items: int, config: ALSConfig = ALSConfig(),
            use_gpu: bool = False) -> "ALS":
        import implicit.als

        ratings = Ratings.build(interactions, n_items)
        X = ratings.ui.copy()
        X.data = np.ones_like(X.data)  # every rating counts as one view (implicit feedback)
        model = implicit.als.AlternatingLeastSquares(
            factors=config.factors, regularization=config.regularization, alpha=config.alpha,
            iterations=config.iterations, random_state=config.seed, use_gpu=use_gpu)
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency

        # implicit parallelises over users itself; a threaded BLAS inside would oversubscribe.
        with threadpool_limits(1, "blas"):
            model.fit(X.tocsr(), show_progress=False)
        if use_gpu:
            model = model.to_cpu()
        return cls(ratings, np.ascontiguousarray(model.item_factors, dtype=np.float32), config)

    def fold_in(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """(A⁻¹ (f, f), per-history coefficients c_h for liked items else 0 (h,))."""
        Y = self.item_factors[history.item_rows].astype(np.float64)
        conf = self.config.alpha * np.abs(history.weights.astype(np.float64))
        A = self.YtY + self.config.regularization * np.eye(Y.shape[1])
        A += (Y * (conf - 1.0)[:, None]).T @ Y
        coef = np.where(history.weights > 0, conf, 0.0)
        return np.linalg.inv(A), coef

    def user_vector(self, history: History) -> np.ndarray:
        Ainv, coef = self.fold_in(history)
        return Ainv @ (self.item_factors[history.item_rows].astype(np.float64).T @ coef)

    def score(self, history: History, candidate_rows: np.ndarray) -> CFScores:
        if len(history) == 0:
            return self._popular(candidate_rows)
        Ainv, coef = self.fold_in(history)
        Yh = self.item_factors[history.item_rows].astype(np.float64)
        Yc = self.item_factors[candidate_rows].astype(np.float64)
        contrib = (Yc @ Ainv @ Yh.T) * coef[None, :]  # (n, h): y_cᵀ A⁻¹ y_h c_h
        scores = contrib.sum(1)
        return CFScores(scores.astype(np.float32), self._evidence(contrib, candidate_rows, history), "history")

    def save(self, folder: Path, catalog: Catalog, interactions: Interactions) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "als_item_factors.npy", self.item_factors)
        self._write(folder, KIND, catalog, interactions, {"model": self.name, **asdict(self.config)})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, interactions: Interactions) -> "ALS":
        manifest = check_manifest(folder, KIND, fingerprints(catalog, interactions))
        cfg = {k: manifest["config"][k] for k in asdict(ALSConfig())}
        return cls(Ratings.load(folder), np.load(folder / "als_item_factors.npy", allow_pickle=False),
                   ALSConfig(**cfg))
