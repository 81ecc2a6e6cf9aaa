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

KS = (1, 10, 50)
NAMES = ("recall@1", "recall@10", "recall@50", "mrr@10", "ndcg@10")


def target_rank(scores: np.ndarray, target_row: int) -> int:
    """1-based rank of `target_row` in `scores` (float, shape (n_items,)), ties broken
    pessimistically: every other item with an equal or higher score ranks ahead."""
    s = scores[target_row]
    if not np.isfinite(s):
        return len(scores)  # a banned target can never be hit
    return int((scores > s).sum() + (scores == s).sum())  # == counts the target itself


@dataclass
class RankingMetrics:
    """Accumulates target ranks; `result()` gives the five metrics and the counts."""

    ranks: list[int] = field(default_factory=list)
    n_samples: int = 0

    def add(self, scores: np.ndarray, target_rows: "list[int] | np.ndarray",
            banned_rows: "list[int] | np.ndarray" = ()) -> None:
        """One sample: `scores` (n_items,) over the whole catalog, its targets, and rows
        that may not be predicted (set to -inf on a copy)."""
        if len(target_rows) == 0:
            return
        if len(banned_rows):
            scores = np.asarray(scores, dtype=np.float64).copy()
            scores[np.asarray(banned_rows, dtype=np.int64)] = -np.inf
        self.n_samples += 1
        self.ranks.extend(target_rank(scores, int(t)) for t in target_rows)

    def add_ranks(self, ranks: "list[int]") -> None:
        """One sample whose target ranks are already known (e.g. from a top-k list, with
        a miss given any rank past k)."""
        if len(ranks):
            self.n_samples += 1
            self.ranks.extend(int(r) for r in ranks)

    def result(self) -> dict[str, float | int]:
        r = np.asarray(self.ranks, dtype=np.float64)
        out: dict[str, float | int] = {}
        if r.size == 0:
            out.update({name: 0.0 for name in NAMES})
        else:
            for k in KS:
                out[f"recall@{k}"] = float((r <= k).mean())
            out["mrr@10"] = float(np.where(r <= 10, 1.0 / r, 0.0).mean())
            out["ndcg@10"] = float(np.where(r <= 10, 1.0 / np.log2(r + 1.0), 0.0).mean())
        out["n_samples"] = self.n_samples
        out["n_targets"] = int(r.size)
        return out

    def recall_curve(self, ks: "list[int] | range") -> list[float]:
        """Recall@k for each k (for the Recall@k plot)."""
        r = np.asarray(self.ranks)
        return [float((r <= k).mean()) if r.size else 0.0 for k in ks]


def new_item_split(target_rows: list[int], earlier_rows: list[int]) -> tuple[list[int], list[int]]:
    """(targets kept, rows banned) under the new-items rule."""
    earlier = set(earlier_rows)
    return [t for t in target_rows if t not in earlier], sorted(earlier)
