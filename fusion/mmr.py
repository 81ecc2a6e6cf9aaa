"""Maximal Marginal Relevance re-ranking (Carbonell & Goldstein 1998) over item embeddings.

Greedy: the next item maximises λ·rel(i) − (1−λ)·max_{j chosen} cos(v_i, v_j), with
relevance min-max scaled to [0, 1] within the pool so λ means the same for every query.
λ = 1 returns the relevance order unchanged; smaller λ trades accuracy for a list whose
items are less alike. Knows nothing about where relevance or vectors came from.
"""

from __future__ import annotations

import numpy as np

from fusion.fuse import minmax


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> np.ndarray:
    """Indices into `relevance` (float (n,)) of the k items chosen, in order.

    `vectors` float32 (n, d) with unit rows (cosine = dot product). O(k·n·d).
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"MMR lambda must be in [0, 1], got {lam}")
    n = len(relevance)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, np.int64)
    rel = minmax(relevance).astype(np.float64)
    first = int(np.argmax(rel))
    if lam >= 1.0:
        return np.argsort(-np.asarray(relevance), kind="stable")[:k].astype(np.int64)
    chosen = [first]
    max_sim = vectors @ vectors[first]  # (n,) similarity to the closest chosen item
    free = np.ones(n, bool)
    free[first] = False
    for _ in range(k - 1):
        gain = np.where(free, lam * rel - (1.0 - lam) * max_sim, -np.inf)
        nxt = int(np.argmax(gain))
        chosen.append(nxt)
        free[nxt] = False
        max_sim = np.maximum(max_sim, vectors @ vectors[nxt])
    return np.array(chosen, np.int64)
