"""Diversity metrics of recommendation lists: the cost side of MMR's trade-off.

- intra-list similarity (ILS): mean pairwise cosine of the list's item vectors (lower =
  more varied; Ziegler et al. 2005);
- genre coverage: distinct genres in the list / distinct genres in the catalog;
- catalog coverage: distinct items over all lists / catalog size (aggregate diversity);
- novelty: mean self-information −log2(p(i)) with p(i) = (ratings of i + 1)/(users + 1),
  so obscure items count as more novel;
- exposure concentration (long-term runs): the Gini coefficient of how often each item
  was shown, and the share of shown slots taken by the top 1% most rated items.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from retrieval.records import Catalog


def intra_list_similarity(rows: np.ndarray, vectors: np.ndarray) -> float:
    """Mean cosine over the list's distinct pairs; 0 for lists shorter than 2."""
    if len(rows) < 2:
        return 0.0
    v = vectors[rows]
    sims = v @ v.T
    n = len(rows)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def genre_coverage(rows: np.ndarray, catalog: Catalog) -> float:
    all_genres = {g for it in catalog.items for g in it.genres}
    seen = {g for r in rows for g in catalog.items[int(r)].genres}
    return len(seen) / max(len(all_genres), 1)


def catalog_coverage(lists: Sequence[np.ndarray], n_items: int) -> float:
    if not len(lists):
        return 0.0
    seen = np.unique(np.concatenate([np.asarray(r, np.int64) for r in lists]))
    return len(seen) / max(n_items, 1)


def novelty(rows: np.ndarray, counts: np.ndarray, n_users: int) -> float:
    if len(rows) == 0:
        return 0.0
    p = (counts[rows].astype(np.float64) + 1.0) / (n_users + 1.0)
    return float(np.mean(-np.log2(np.minimum(p, 1.0))))


def exposure(lists: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """int64 (n_items,): how many times each item was shown over `lists`."""
    flat = np.concatenate([np.asarray(r, np.int64) for r in lists]) if len(lists) else np.zeros(0, np.int64)
    return np.bincount(flat, minlength=n_items).astype(np.int64)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of exposure counts over every item (0: all shown equally often;
    near 1: a few items take all the exposure). 0 when nothing was shown."""
    x = np.sort(np.asarray(counts, np.float64))
    n, total = len(x), float(x.sum())
    if n == 0 or total == 0:
        return 0.0
    return float((2.0 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


def popular_share(lists: Sequence[np.ndarray], popular_rows: np.ndarray) -> float:
    """Share of the shown slots taken by `popular_rows` (e.g. the top 1% most rated items)."""
    flat = np.concatenate([np.asarray(r, np.int64) for r in lists]) if len(lists) else np.zeros(0, np.int64)
    return float(np.isin(flat, popular_rows).mean()) if len(flat) else 0.0


def top_share_rows(counts: np.ndarray, share: float = 0.01) -> np.ndarray:
    """int64: the rows of the `share` most interacted-with items (at least one)."""
    n = max(1, int(round(len(counts) * share)))
    return np.argsort(-np.asarray(counts), kind="stable")[:n].astype(np.int64)
