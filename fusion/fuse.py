"""Fusion of text and CF scores over one query's candidates, behind one `Fuser` interface.

Every fuser returns `FusedParts(fused, text, cf, alpha)` with fused = α·text + (1−α)·cf
exactly, so the bot and the API can show each source's contribution:

- `WeightedFuser(alpha, norm)`: α·norm(text) + (1−α)·norm(CF); norm is per-query min-max
  (to [0, 1]) or z-score (mean 0, sd 1), so neither source dominates by its scale alone.
- `RRFFuser(alpha, k)`: weighted reciprocal rank fusion (Cormack et al. 2009); each part is
  (k+1)/(k+rank), i.e. 1 for the top item, so only ranks matter, never score scales.
- `AdaptiveFuser(alpha_inf, n0, norm, alpha0)`: weighted fusion whose α moves with the
  evidence in the history: α(n) = α_inf + (α0−α_inf)·n0/(n0+n) for n liked items, so
  α(0) = α0 and α → α_inf as the history grows. The default α0 = 1 is the intuitive rule
  (text only for an empty session, CF's weight growing with likes); the tuner may also
  find α0 < α_inf, and on MovieLens it does (see benchmarks/results/coldstart.md).

Fusers are plain frozen configs; `fuser_from_dict(f.describe())` round-trips them, which
is how a tuned strategy is stored in an artifact manifest. No knowledge of items or chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

NORMS = ("minmax", "zscore")


def minmax(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] within one query's candidates; a constant vector maps to zeros
    (it carries no preference between candidates)."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def zscore(x: np.ndarray) -> np.ndarray:
    """(x − mean) / sd within one query's candidates; a constant vector maps to zeros."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    sd = float(x.std())
    if sd < 1e-9:
        return np.zeros_like(x)
    return ((x - float(x.mean())) / sd).astype(np.float32)


def normalise(x: np.ndarray, norm: str) -> np.ndarray:
    if norm == "minmax":
        return minmax(x)
    if norm == "zscore":
        return zscore(x)
    raise ValueError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMS)}")


def ranks(x: np.ndarray) -> np.ndarray:
    """1-based rank of each entry by descending score (ties: earlier entry first)."""
    order = np.argsort(-np.asarray(x), kind="stable")
    r = np.empty(len(order), np.int64)
    r[order] = np.arange(1, len(order) + 1)
    return r


@dataclass(frozen=True)
class FusedParts:
    fused: np.ndarray  # float32 (n,) = alpha * text + (1 - alpha) * cf
    text: np.ndarray  # float32 (n,) the text part before weighting
    cf: np.ndarray  # float32 (n,) the CF part before weighting
    alpha: float  # the weight of text actually used for this query


class Fuser(Protocol):
    def fuse(self, text_scores: np.ndarray, cf_scores: np.ndarray, evidence_count: int) -> FusedParts:
        """Scores of the same n candidates (float32 (n,)); evidence_count = liked items
        in the history the CF scores came from."""
        ...

    def describe(self) -> dict[str, Any]: ...


def _check_alpha(alpha: float, what: str = "alpha") -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{what} must be in [0, 1], got {alpha}")


def _combine(t: np.ndarray, c: np.ndarray, alpha: float) -> FusedParts:
    return FusedParts((alpha * t + (1.0 - alpha) * c).astype(np.float32),
                      t.astype(np.float32), c.astype(np.float32), float(alpha))


@dataclass(frozen=True)
class WeightedFuser:
    alpha: float = 0.7  # weight of text (the first slice's hand-picked default)
    norm: str = "minmax"

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        normalise(np.zeros(0), self.norm)  # rejects an unknown norm at construction

    def fuse(self, text_scores: np.ndarray, cf_scores: np.ndarray, evidence_count: int) -> FusedParts:
        return _combine(normalise(text_scores, self.norm), normalise(cf_scores, self.norm), self.alpha)

    def describe(self) -> dict[str, Any]:
        return {"kind": "weighted", "alpha": self.alpha, "norm": self.norm}


@dataclass(frozen=True)
class RRFFuser:
    alpha: float = 0.5  # weight of the text ranking
    k: float = 60.0  # Cormack et al.'s constant: damps the gap between the first few ranks

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.k <= 0:
            raise ValueError(f"RRF k must be positive, got {self.k}")

    def fuse(self, text_scores: np.ndarray, cf_scores: np.ndarray, evidence_count: int) -> FusedParts:
        t = (self.k + 1) / (self.k + ranks(text_scores))
        c = (self.k + 1) / (self.k + ranks(cf_scores))
        return _combine(t, c, self.alpha)

    def describe(self) -> dict[str, Any]:
        return {"kind": "rrf", "alpha": self.alpha, "k": self.k}


@dataclass(frozen=True)
class AdaptiveFuser:
    alpha_inf: float = 0.3  # text weight once the history is long
    n0: float = 3.0  # liked items at which α is halfway between α0 and α_inf
    norm: str = "minmax"
    alpha0: float = 1.0  # text weight with no liked item (1 = text only)

    def __post_init__(self) -> None:
        _check_alpha(self.alpha_inf, "alpha_inf")
        _check_alpha(self.alpha0, "alpha0")
        if self.n0 <= 0:
            raise ValueError(f"n0 must be positive, got {self.n0}")
        normalise(np.zeros(0), self.norm)

    def alpha(self, n: int) -> float:
        return float(self.alpha_inf + (self.alpha0 - self.alpha_inf) * self.n0 / (self.n0 + max(n, 0)))

    def fuse(self, text_scores: np.ndarray, cf_scores: np.ndarray, evidence_count: int) -> FusedParts:
        return WeightedFuser(self.alpha(evidence_count), self.norm).fuse(text_scores, cf_scores, evidence_count)

    def describe(self) -> dict[str, Any]:
        return {"kind": "adaptive", "alpha_inf": self.alpha_inf, "n0": self.n0, "norm": self.norm,
                "alpha0": self.alpha0}


def fuser_from_dict(d: dict[str, Any]) -> Fuser:
    """Inverse of `describe()`; raises ValueError naming the valid kinds."""
    kinds = {"weighted": WeightedFuser, "rrf": RRFFuser, "adaptive": AdaptiveFuser}
    args = {k: v for k, v in d.items() if k != "kind"}
    try:
        return kinds[d.get("kind", "")](**args)
    except KeyError:
        raise ValueError(f"unknown fuser kind {d.get('kind')!r}; one of {', '.join(kinds)}") from None
