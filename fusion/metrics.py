"""Ranking metrics for the ReDial protocol: Recall@k, MRR@k, NDCG@k over targets.

Each (sample, target) pair counts once (CRSLab / UniCRS convention): a turn that mentions
three movies adds three targets, each ranked against the whole catalog on its own, and a
movie that is a target in two turns counts twice. With one relevant item per target,
MRR@k = 1/rank and NDCG@k = 1/log2(rank + 1) when rank <= k, else 0 (rank 1 = best).

`new_items` protocol: targets mentioned earlier in the dialogue are dropped, and earlier
mentioned movies get -inf so they cannot be predicted; a sample left with no target is
dropped. Knows nothing of encoders or data files: scores and rows in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NAMES = ("recall@1", "recall@10", "recall@50", "mrr@10", "ndcg@10")


def target_rank(scores: np.ndarray, target_row: int) -> int:
    """1-based rank of `target_row` in `scores` (float, shape (n_items,)), ties broken
    pessimistically: every other item with an equal or higher score ranks ahead."""
    s = scores[target_row]
    if not np.isfinite(s):
        return len(scores)  # a banned target can never be hit
    return int((scores > s).sum() + (scores == s).sum())  # == counts the target itself


def per_target(ranks: np.ndarray, name: str) -> np.ndarray:
    """Each target's contribution to metric `name` (one of NAMES); the metric is their mean."""
    if name not in NAMES:
        raise ValueError(f"unknown metric {name!r}; known: {NAMES}")
    if name.startswith("recall@"):
        return (ranks <= int(name.split("@")[1])).astype(np.float64)
    if name == "mrr@10":
        return np.where(ranks <= 10, 1.0 / ranks, 0.0)
    return np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0)


@dataclass
class RankingMetrics:
    """Accumulates target ranks; `result()` gives the five metrics and the counts,
    `intervals()` their 95% bootstrap intervals over the groups the ranks came from."""

    ranks: list[int] = field(default_factory=list)
    n_samples: int = 0
    groups: list[str] = field(default_factory=list)  # per rank: what a bootstrap resamples as one unit

    def add(self, scores: np.ndarray, target_rows: "list[int] | np.ndarray",
            banned_rows: "list[int] | np.ndarray" = (), group: str | None = None) -> None:
        """One sample: `scores` (n_items,) over the whole catalog, its targets, and rows
        that may not be predicted (set to -inf on a copy)."""
        if len(target_rows) == 0:
            return
        if len(banned_rows):
            scores = np.asarray(scores, dtype=np.float64).copy()
            scores[np.asarray(banned_rows, dtype=np.int64)] = -np.inf
        self.add_ranks([target_rank(scores, int(t)) for t in target_rows], group)

    def add_ranks(self, ranks: "list[int]", group: str | None = None) -> None:
        """One sample whose target ranks are already known (e.g. from a top-k list, with
        a miss given any rank past k). `group` (e.g. the dialogue id) ties samples that a
        bootstrap must resample together; by default each sample is its own group."""
        if len(ranks):
            self.n_samples += 1
            self.ranks.extend(int(r) for r in ranks)
            self.groups.extend([f"#{self.n_samples}" if group is None else group] * len(ranks))

    def result(self) -> dict[str, float | int]:
        r = np.asarray(self.ranks, dtype=np.float64)
        out: dict[str, float | int] = {name: float(per_target(r, name).mean()) if r.size else 0.0 for name in NAMES}
        out["n_samples"] = self.n_samples
        out["n_targets"] = int(r.size)
        return out

    def intervals(self, names: "tuple[str, ...]" = ("recall@10", "recall@50"), n_boot: int = 1000,
                  seed: int = 0) -> dict[str, tuple[float, float]]:
        """95% percentile interval of each metric in `names`: the groups are drawn with
        replacement, each with all its targets (targets of one dialogue are not independent)."""
        r = np.asarray(self.ranks, dtype=np.float64)
        if r.size == 0:
            return {name: (0.0, 0.0) for name in names}
        _, g = np.unique(np.asarray(self.groups), return_inverse=True)
        n = int(g.max()) + 1
        targets = np.bincount(g, minlength=n).astype(np.float64)
        rng = np.random.default_rng(seed)
        draws = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_boot)]).astype(np.float64)
        denominators = draws @ targets
        out = {}
        for name in names:
            values = (draws @ np.bincount(g, weights=per_target(r, name), minlength=n)) / denominators
            out[name] = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
        return out

    def recall_curve(self, ks: "list[int] | range") -> list[float]:
        """Recall@k for each k (for the Recall@k plot)."""
        r = np.asarray(self.ranks)
        return [float((r <= k).mean()) if r.size else 0.0 for k in ks]


def new_item_split(target_rows: list[int], earlier_rows: list[int]) -> tuple[list[int], list[int]]:
    """(targets kept, rows banned) under the new-items rule."""
    earlier = set(earlier_rows)
    return [t for t in target_rows if t not in earlier], sorted(earlier)
