"""Vector index over item embeddings (inner product = cosine for unit vectors).

The index is chosen by catalog size, as a FAISS factory string kept in the manifest:
exact "Flat" below `ann_threshold` items, where exact search costs less than a chat turn
should; above it an approximate index ("IVF{nlist},Flat" by default, "HNSW32" on request:
an HNSW graph over 1M items took about an hour to build on 2 cores, IVF about a minute).
An approximate index's recall@10 against exact search is measured when it is built, on
queries made from the catalog's own vectors, and its search breadth (IVF nprobe, HNSW
efSearch) doubled until it reaches `recall_target`; factory, breadth and recall are
written into the text/ manifest (`describe`).

Filtered search (years, facets, bans) takes a bool mask of the allowed rows: an exact
index searches through a FAISS `IDSelectorBitmap` (a bit per item, packed in one numpy
call, instead of a hash set of row ids built every turn); an approximate one searches the
allowed rows exactly when they are few (`exact_filter_below`), else widens its breadth by
the inverse of the allowed share so that the filter does not cost recall
(`filtered_recall` measures it). Save/load via faiss.write_index (breadth included).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class IndexConfig:
    ann_threshold: int = 200_000  # flat search over 200k x 384 floats is ~30 ms on one core
    ann: str = "ivf"  # "ivf" (IVF{nlist},Flat: builds in about a minute at 1M) or "hnsw"
    hnsw_m: int = 32  # HNSW graph degree: FAISS' usual trade-off of memory and recall
    ef_search: int = 256  # first HNSW breadth tried; must exceed the candidate pool (N=200)
    nprobe: int = 16  # first IVF breadth tried (lists scanned per query)
    recall_target: float = 0.95  # breadth doubles at build time until recall@10 reaches this
    recall_queries: int = 200  # sample queries for the build-time recall (exact search: ~2 s at 1M)
    # A filter that leaves at most this many rows is searched exactly over them (a
    # 50k x 384 product is ~5 ms on one core) instead of through the approximate index.
    exact_filter_below: int = 50_000
    factory: str | None = None  # force a FAISS factory string (tests, experiments)


def factory_for(n: int, config: IndexConfig) -> str:
    """The FAISS factory string for a catalog of `n` items."""
    if config.factory:
        return config.factory
    if n < config.ann_threshold:
        return "Flat"
    if config.ann == "hnsw":
        return f"HNSW{config.hnsw_m}"
    # nlist ~ sqrt(n), a power of two: 1024 lists at 1M (~1k vectors each)
    nlist = int(2 ** round(np.log2(max(np.sqrt(n), 16))))
    while nlist > 1 and nlist * 8 > n:  # k-means needs several points per list (tiny catalogs, tests)
        nlist //= 2
    return f"IVF{nlist},Flat"


def recall_queries(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """(n, dim) unit queries near the catalog's own vectors: random items plus noise of
    norm 0.5 (an item as its own query would find itself first and flatter the recall)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), min(n, len(vectors)), replace=False)
    q = vectors[rows] + rng.normal(0, 0.5 / np.sqrt(vectors.shape[1]), (len(rows), vectors.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """(q, k') int64 exact top rows by inner product among `allowed` (bool mask) rows."""
    rows = np.arange(len(vectors)) if allowed is None else np.flatnonzero(allowed)
    k = min(k, len(rows))
    out = np.empty((len(queries), k), np.int64)
    for i, q in enumerate(queries):  # one query at a time: no (q, n) matrix at 1M items
        s = vectors[rows] @ q if allowed is not None else vectors @ q
        top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        out[i] = rows[top[np.argsort(-s[top], kind="stable")]]
    return out


class FaissIndex:
    """Top-n search over unit vectors; returns (scores, rows) best first."""

    def __init__(self, index, config: IndexConfig, vectors: np.ndarray | None = None,
                 stats: dict | None = None) -> None:
        self.index = index
        self.config = config
        self.vectors = vectors  # the indexed vectors (exact search over a few filtered rows)
        self.stats = stats or {}  # factory, breadth and recall measured at build

    @classmethod
    def build(cls, vectors: np.ndarray, config: IndexConfig = IndexConfig()) -> "FaissIndex":
        import faiss

        t0 = time.perf_counter()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        factory = factory_for(n, config)
        if factory == "Flat":
            index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            nlist = faiss.extract_index_ivf(index).nlist
            # 50 points per list is within FAISS' advice (39-256) and keeps k-means short
            sample = np.random.default_rng(0).choice(n, min(n, 50 * nlist), replace=False)
            index.train(vectors[np.sort(sample)])
        index.add(vectors)
        built = cls(index, config, vectors, {"factory": factory})
        built.stats.update(built._tune_breadth(vectors))
        built.stats["build_s"] = round(time.perf_counter() - t0, 2)
        return built

    def updated(self, vectors: np.ndarray, changed_rows: np.ndarray) -> "FaissIndex":
        """A new index over `vectors` (float32 (n', dim), n' >= len(self)): rows past
        len(self) added, `changed_rows` (int64, below len(self)) re-embedded; this one is
        left as it is (turns in flight keep searching it). An exact index is made anew
        (a copy of the vectors: milliseconds at 200k items); an IVF index is cloned and
        takes the new and changed vectors by id into its trained lists (the breadth tuned
        at build is kept); an HNSW graph takes new vectors, and is rebuilt when a vector
        changed (a graph node cannot be moved). Rows stay catalog rows: a withdrawn item
        keeps its row, left out by the search filter (fusion/recommender.py)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n_old, changed = len(self), np.asarray(changed_rows, np.int64)
        if len(vectors) < n_old or (len(changed) and (changed.min() < 0 or changed.max() >= n_old)):
            raise ValueError("an updated index keeps every row: give the old rows' vectors first, new rows after")
        stats = {**self.stats, "updated_rows": int(len(changed)), "added_rows": int(len(vectors) - n_old)}
        if self.exact:
            index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(vectors)
            return FaissIndex(index, self.config, vectors, stats)
        if self.breadth_name == "efSearch" and len(changed):
            return FaissIndex.build(vectors, self.config)
        index = faiss.clone_index(self.index)
        new_rows = np.arange(n_old, len(vectors), dtype=np.int64)
        if self.breadth_name == "nprobe":
            if len(changed):
                index.remove_ids(faiss.IDSelectorBatch(len(changed), faiss.swig_ptr(changed)))
            rows = np.concatenate([changed, new_rows])
            if len(rows):
                index.add_with_ids(vectors[rows], rows)
        elif len(new_rows):  # HNSW: ids are the order of addition, so new rows follow the old
            index.add(vectors[new_rows])
        return FaissIndex(index, self.config, vectors, stats)

    def _tune_breadth(self, vectors: np.ndarray) -> dict:
        """Widen an approximate index's breadth until recall@10 reaches the target; the
        measured recall either way (1.0 for an exact index, by construction)."""
        if self.breadth_name is None:
            return {"recall_at_10": 1.0}
        cfg = self.config
        queries = recall_queries(vectors, cfg.recall_queries)
        truth = exact_top(vectors, queries, 10)
        breadth, cap = (cfg.nprobe, self._nlist()) if self.breadth_name == "nprobe" else (cfg.ef_search, 4096)
        while True:
            self._set_breadth(min(breadth, cap))
            recall = _recall(self.search(queries, 10)[1], truth)
            if recall >= cfg.recall_target or breadth >= cap:
                break
            breadth *= 2
        return {self.breadth_name: self._breadth(), "recall_at_10": round(recall, 4),
                "recall_queries": len(queries)}

    # --- breadth of an approximate index --------------------------------------------
    @property
    def breadth_name(self) -> str | None:
        if hasattr(self.index, "nprobe"):
            return "nprobe"
        if hasattr(self.index, "hnsw"):
            return "efSearch"
        return None

    def _nlist(self) -> int:
        return int(self.index.nlist)

    def _breadth(self) -> int:
        return int(self.index.nprobe) if self.breadth_name == "nprobe" else int(self.index.hnsw.efSearch)

    def _set_breadth(self, value: int) -> None:
        if self.breadth_name == "nprobe":
            self.index.nprobe = int(value)
        else:
            self.index.hnsw.efSearch = int(value)

    @property
    def kind(self) -> str:
        return type(self.index).__name__

    @property
    def exact(self) -> bool:
        return self.breadth_name is None

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, n: int, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """queries (q, dim) float32 -> scores (q, n') float32, rows (q, n') int64, n' = min(n, size).
        `only` restricts the search to some items: a bool mask (n_items,) or int64 rows
        (a FAISS ID selector, so a strict filter such as "the 1950s" still gets its n
        best); rows are -1 past the last match."""
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = min(n, len(self))
        if only is None:
            scores, rows = self.index.search(queries, n)
            return scores, rows.astype(np.int64)
        mask = _as_mask(only, len(self))
        kept = int(mask.sum())
        if not self.exact and kept <= self.config.exact_filter_below and self.vectors is not None:
            return self._exact_among(queries, n, mask)
        bits = np.packbits(mask, bitorder="little")  # FAISS reads bit i of byte i >> 3, low bit first
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        if self.breadth_name == "nprobe":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self._filtered_nprobe(queries, mask))
        elif self.breadth_name == "efSearch":
            ef = min(4096, int(np.ceil(max(self._breadth(), n) * len(self) / max(kept, 1))))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, rows = self.index.search(queries, n, params=params)
        del bits  # the selector reads it during search; keep it alive until here
        return scores, rows.astype(np.int64)

    def _filtered_nprobe(self, queries: np.ndarray, mask: np.ndarray) -> int:
        """IVF lists to scan under a filter: the nearest lists, in the quantizer's order,
        until they hold as many allowed items as the unfiltered search scans. A filter
        correlates with the lists (a year range leaves out whole neighbourhoods of similar
        items), so scaling nprobe by the allowed share alone lost recall (0.78 at 1M for
        "after 2000" on the scale benchmark's catalog)."""
        nlist = self._nlist()
        allowed = np.bincount(self._list_of()[mask], minlength=nlist)  # allowed items per list
        _, order = self.index.quantizer.search(queries, nlist)  # every list, nearest first
        target = self._breadth() * len(self) / nlist  # items the unfiltered search scans
        cum = np.cumsum(allowed[order], axis=1)
        need = [int(np.searchsorted(c, min(target, c[-1]))) + 1 for c in cum]
        return int(min(nlist, max(need + [self._breadth()])))

    def _list_of(self) -> np.ndarray:
        """int32 (n_items,): the IVF list of every item (read once from the inverted lists)."""
        if getattr(self, "_lists", None) is None:
            import faiss

            ivf = faiss.extract_index_ivf(self.index)
            out = np.zeros(len(self), np.int32)
            for lst in range(ivf.nlist):
                size = ivf.invlists.list_size(lst)
                if size:
                    out[faiss.rev_swig_ptr(ivf.invlists.get_ids(lst), size).copy()] = lst
            self._lists = out
        return self._lists

    def _exact_among(self, queries: np.ndarray, n: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.flatnonzero(mask)
        scores = np.full((len(queries), n), -np.inf, np.float32)
        out = np.full((len(queries), n), -1, np.int64)
        sub = self.vectors[rows]
        for i, q in enumerate(queries):
            s = sub @ q
            m = min(n, len(rows))
            top = np.argpartition(-s, m - 1)[:m] if m < len(s) else np.arange(len(s))
            top = top[np.argsort(-s[top], kind="stable")]
            scores[i, :m], out[i, :m] = s[top], rows[top]
        return scores, out

    def filtered_recall(self, vectors: np.ndarray, allowed: np.ndarray | None = None, k: int = 10,
                        queries: int = 100, seed: int = 0) -> float:
        """recall@k of `search` (with the filter `allowed`, a bool mask) against exact
        search over the same rows, on queries near the catalog's own vectors."""
        q = recall_queries(vectors, queries, seed)
        truth = exact_top(vectors, q, k, allowed)
        return round(_recall(self.search(q, k, allowed)[1], truth), 4)

    def save(self, path: str | Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: str | Path, config: IndexConfig = IndexConfig(), vectors: np.ndarray | None = None,
             stats: dict | None = None) -> "FaissIndex":
        """The saved index with the breadth tuned at build (FAISS writes nprobe/efSearch)."""
        import faiss

        return cls(faiss.read_index(str(path)), config, vectors, stats)

    def describe(self) -> dict:
        out = {"kind": self.kind, "size": len(self), **asdict(self.config), **self.stats}
        if self.breadth_name is not None:
            out[self.breadth_name] = self._breadth()
        return out


def _as_mask(only: np.ndarray, n: int) -> np.ndarray:
    only = np.asarray(only)
    if only.dtype == bool:
        if only.shape != (n,):
            raise ValueError(f"a filter mask must have one entry per item ({n}), got shape {only.shape}")
        return only
    mask = np.zeros(n, bool)
    mask[only.astype(np.int64)] = True
    return mask


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f[f >= 0].tolist()) & set(t.tolist())) / max(len(t), 1) for f, t in zip(found, truth)]
    return float(np.mean(hits)) if hits else 1.0
