"""A vector index split into shards whose results merge by score: catalogs past one machine.

The catalog's rows are cut into contiguous ranges, one `FaissIndex` each (retrieval/index.py:
the same factory rule, filters and breadth tuning, applied to the shard's own size). A
search asks every shard for its own top n and keeps the n best of the union by score.
That is exactly the unsharded top n when the shards search exactly: each of the global
top n is among its own shard's top n. With approximate shards each shard's recall is what
its build measured.

Filters stay global: the bool mask over every row (or int rows) is cut into each shard's
slice, so a shard searches its allowed rows through its own IDSelectorBitmap; a shard with
no allowed row is not asked. FAISS' own `IndexShards` was not used because a search-time
ID selector reaches its sub-indexes with their local ids, so a global filter would need
re-mapping per shard anyway, and it cannot hold a shard that lives in another process.

A shard is anything with `search(queries, n, only) -> (scores, rows)` and `len()`
(`Shard`): a local FaissIndex here; in a cluster, a handle to one Ray Serve deployment
per shard (bot/service/serve_ray.py `deploy_shards`, each holding its slice of the vectors),
which is why the merge asks for nothing else. Shards are asked one after another.

What this module does NOT know: items, text, or which process a shard lives in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.index import FaissIndex, IndexConfig, _as_mask

FORMAT = 1  # shards.json layout


class Shard(Protocol):
    def search(self, queries: np.ndarray, n: int, only: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]: ...

    def __len__(self) -> int: ...


def shard_bounds(n_items: int, n_shards: int) -> np.ndarray:
    """int64 (n_shards + 1,) row offsets: near-equal contiguous ranges, the first ones one longer."""
    if not 1 <= n_shards <= max(n_items, 1):
        raise ValueError(f"cannot cut {n_items} items into {n_shards} shards: use 1 to {max(n_items, 1)}")
    sizes = np.full(n_shards, n_items // n_shards, np.int64)
    sizes[: n_items % n_shards] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


class ShardedIndex:
    """Top-n search over shards of rows [offsets[i], offsets[i+1]); the same answers and
    shapes as FaissIndex.search, rows global."""

    def __init__(self, shards: Sequence[Shard], offsets: np.ndarray, config: IndexConfig = IndexConfig()) -> None:
        offsets = np.asarray(offsets, np.int64)
        if len(offsets) != len(shards) + 1 or offsets[0] != 0 or any(
                len(s) != int(b - a) for s, a, b in zip(shards, offsets[:-1], offsets[1:])):
            raise ValueError("shard sizes do not match their offsets: rebuild the sharded index")
        self.shards, self.offsets, self.config = list(shards), offsets, config
        self.vectors: np.ndarray | None = None  # read by Retriever; each local shard holds its own slice

    @classmethod
    def build(cls, vectors: np.ndarray, n_shards: int, config: IndexConfig = IndexConfig()) -> "ShardedIndex":
        """`vectors` float32 (n_items, dim) unit rows, cut into `n_shards` FaissIndex shards."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        bounds = shard_bounds(len(vectors), n_shards)
        shards = [FaissIndex.build(vectors[a:b], config) for a, b in zip(bounds[:-1], bounds[1:])]
        return cls(shards, bounds, config)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def exact(self) -> bool:
        return all(getattr(s, "exact", False) for s in self.shards)

    @property
    def breadth_name(self) -> None:
        return None  # each shard tunes its own breadth

    @property
    def kind(self) -> str:
        return f"ShardedIndex[{len(self.shards)}]"

    def search(self, queries: np.ndarray, n: int, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """queries (q, dim) float32 -> scores (q, n') float32, rows (q, n') int64 global,
        n' = min(n, size), best first; `only` a bool mask (n_items,) or int64 rows; rows are
        -1 (score -inf) past the last allowed one."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = min(n, len(self))
        mask = None if only is None else _as_mask(only, len(self))
        found_scores, found_rows = [], []
        for shard, start, end in zip(self.shards, self.offsets[:-1], self.offsets[1:]):
            local = None if mask is None else mask[start:end]
            if local is not None and not local.any():
                continue
            scores, rows = shard.search(queries, min(n, int(end - start)), local)
            found_scores.append(np.where(rows >= 0, scores, -np.inf).astype(np.float32))
            found_rows.append(np.where(rows >= 0, rows + start, -1))
        if not found_rows:
            return np.full((len(queries), n), -np.inf, np.float32), np.full((len(queries), n), -1, np.int64)
        scores, rows = np.concatenate(found_scores, axis=1), np.concatenate(found_rows, axis=1)
        if scores.shape[1] < n:  # a filter left fewer rows than asked for: pad as FAISS does
            pad = n - scores.shape[1]
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
        # best score first; equal scores by row, so the answer does not depend on shard order
        order = np.lexsort((np.where(rows >= 0, rows, np.iinfo(np.int64).max), -scores), axis=1)[:, :n]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)

    def save(self, folder: str | Path) -> None:
        """shard_<i>.faiss per shard plus shards.json (offsets, config); local shards only."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, shard in enumerate(self.shards):
            shard.save(folder / f"shard_{i}.faiss")
        (folder / "shards.json").write_text(json.dumps({
            "format": FORMAT, "offsets": self.offsets.tolist(),
            "stats": [getattr(s, "stats", {}) for s in self.shards]}, indent=1) + "\n")

    @classmethod
    def load(cls, folder: str | Path, config: IndexConfig = IndexConfig(),
             vectors: np.ndarray | None = None) -> "ShardedIndex":
        """The saved shards; `vectors` (n_items, dim), when given, go to each shard as its slice
        (an approximate shard searches a few filtered rows exactly over them)."""
        folder = Path(folder)
        meta = json.loads((folder / "shards.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder}/shards.json has format {meta.get('format')}, this code reads {FORMAT}: "
                             "rebuild the sharded index")
        offsets = np.asarray(meta["offsets"], np.int64)
        shards = [FaissIndex.load(folder / f"shard_{i}.faiss", config,
                                  None if vectors is None else vectors[offsets[i]:offsets[i + 1]], stats)
                  for i, stats in enumerate(meta["stats"])]
        return cls(shards, offsets, config)

    def describe(self) -> dict:
        return {"kind": self.kind, "size": len(self), "shards": len(self.shards),
                "shard_sizes": np.diff(self.offsets).tolist(),
                "shard": [s.describe() for s in self.shards if hasattr(s, "describe")][:1]}
