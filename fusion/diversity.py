"""Diversity metrics of recommendation lists: the cost side of MMR's trade-off.

- intra-list similarity (ILS): mean pairwise cosine of the list's item vectors (lower =
  more varied; Ziegler et al. 2005);
- genre coverage: distinct genres in the list / distinct genres in the catalog;
- catalog coverage: distinct items over all lists / catalog size (aggregate diversity);
- novelty: mean self-information −log2(p(i)) with p(i) = (ratings of i + 1)/(users + 1),
  so obscure items count as more novel.
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
    seen = set()
    for rows in lists:
        seen.update(int(r) for r in rows)
    return len(seen) / max(n_items, 1)


def novelty(rows: np.ndarray, counts: np.ndarray, n_users: int) -> float:
    if len(rows) == 0:
        return 0.0
    p = (counts[rows].astype(np.float64) + 1.0) / (n_users + 1.0)
    return float(np.mean(-np.log2(np.minimum(p, 1.0))))
