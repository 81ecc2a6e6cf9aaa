"""Vector index over item embeddings (inner product = cosine for unit vectors).

Exact `IndexFlatIP` for small catalogs; HNSW above `hnsw_threshold` items, where exact
search starts to cost more than a chat turn should. Save/load via faiss.write_index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class IndexConfig:
    hnsw_threshold: int = 200_000  # flat search over 200k x 384 floats is ~30 ms on 2 cores
    hnsw_m: int = 32  # graph degree: FAISS' usual default trade-off of memory and recall
    ef_search: int = 256  # must exceed the candidate pool (N=200) for good recall


class FaissIndex:
    """Top-n search over unit vectors; returns (scores, rows) best first."""

    def __init__(self, index, config: IndexConfig) -> None:
        self.index = index
        self.config = config

    @classmethod
    def build(cls, vectors: np.ndarray, config: IndexConfig = IndexConfig()) -> "FaissIndex":
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if n >= config.hnsw_threshold:
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = config.ef_search
        else:
            index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return cls(index, config)

    @property
    def kind(self) -> str:
        return type(self.index).__name__

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, n: int, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """queries (q, dim) float32 -> scores (q, n') float32, rows (q, n') int64, n' = min(n, size).
        `only` (int64 rows) restricts the search to those items (a FAISS ID selector, so a
        strict filter such as "the 1950s" still gets its n best); rows are -1 past the
        last match."""
        import faiss

        n = min(n, len(self))
        params = None
        if only is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(only, dtype=np.int64))
            if isinstance(self.index, faiss.IndexHNSWFlat):
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
            else:
                params = faiss.SearchParameters(sel=selector)
        scores, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), n, params=params)
        return scores, rows.astype(np.int64)

    def save(self, path: str | Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: str | Path, config: IndexConfig = IndexConfig()) -> "FaissIndex":
        import faiss

        index = faiss.read_index(str(path))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = config.ef_search
        return cls(index, config)

    def describe(self) -> dict:
        return {"kind": self.kind, "size": len(self), **asdict(self.config)}
