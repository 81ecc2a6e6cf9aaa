"""Items too close to a disliked one: the same title stem (sequels), the same series, or
near-identical text, found without a Python pass over the catalog.

Every title's stem (bot/conversation/linking.py `normalise_title`) is computed once and kept sorted, so
the titles that start with a disliked title's stem are one `bisect` range; a "(Name, #n)"
series note is a name -> rows index. Text neighbours: one product of the disliked vectors
with every item vector while the index is exact (the same arithmetic as before); above
the index's ANN threshold, the index's own top-K neighbours, K doubled until the K-th is
below the threshold (items this close sit in the same IVF list or HNSW neighbourhood).
`tests/test_scale_paths.py` compares it with the straightforward pass. Knows nothing of
sessions or scoring.
"""

from __future__ import annotations

import bisect
import re
import threading

import numpy as np

from bot.conversation.linking import SERIES_NOTE
from retrieval.titles import normalise_title
from retrieval.records import Catalog

# What follows a title in its sequels: "toy story" -> "toy story 2", "alien 3", "rocky iv".
SEQUEL = re.compile(r"^ (?:\d{1,2}|ii|iii|iv|v|vi|part \w+|chapter \w+)\b")
FIRST_NEIGHBOURS = 64  # ANN neighbours read first; doubled while all are above the threshold
# After the last character a stem can continue with ([a-z0-9 ]): the end of its bisect range.
PAST_STEM = "\x7f"


class NearDuplicates:
    def __init__(self, catalog: Catalog, vectors: np.ndarray, index=None, stems: list[str] | None = None) -> None:
        """`vectors` float32 (n_items, dim) unit rows; `index` a retrieval.index.FaissIndex
        (used only when it is approximate); `stems` the titles' normalise_title per row when
        already computed (TitleLinker.stems), else computed on the first dislike."""
        self.catalog = catalog
        self.vectors = vectors
        self.index = index
        self._lock = threading.Lock()
        self._given = stems
        self._stems: list[str] | None = None
        self._sorted: list[str] = []
        self._order = np.zeros(0, np.int64)
        self._series: dict[str, list[int]] = {}

    def warm(self) -> None:
        """Build the sorted stems and the series index now (else on the first dislike)."""
        self._build()

    def _build(self) -> None:
        with self._lock:
            if self._stems is not None:
                return
            stems = self._given if self._given is not None else [normalise_title(it.title) for it in self.catalog.items]
            order = sorted(range(len(stems)), key=stems.__getitem__)
            series: dict[str, list[int]] = {}
            for row, it in enumerate(self.catalog.items):
                if "#" in it.title:  # SERIES_NOTE needs one: skip the regex on most titles
                    for name in dict.fromkeys(normalise_title(m.group(1)) for m in SERIES_NOTE.finditer(it.title)):
                        series.setdefault(name, []).append(row)
            self._sorted = [stems[r] for r in order]
            self._order = np.array(order, np.int64)
            self._series = series
            self._stems = stems

    def text_neighbours(self, rows: np.ndarray, threshold: float) -> set[int]:
        """Rows whose vector has cosine >= `threshold` with any of `rows`."""
        index = self.index
        if index is None or getattr(index, "exact", True):
            sims = self.vectors[rows] @ self.vectors.T  # (d, n_items)
            return set(np.nonzero((sims >= threshold).any(0))[0].tolist())
        close: set[int] = set()
        k = FIRST_NEIGHBOURS
        queries = self.vectors[rows]
        while True:
            scores, found = index.search(queries, min(k, len(index)))
            close = {int(r) for s, f in zip(scores, found) for r in f[(s >= threshold) & (f >= 0)]}
            if k >= len(index) or not (scores[:, -1] >= threshold).any():
                return close
            k *= 2

    def of(self, item_ids: tuple[str, ...], threshold: float) -> tuple[str, ...]:
        """Items too close to the disliked `item_ids` (themselves left out), in row order;
        `threshold` is the cosine of near-identical texts (BotConfig.near_duplicate)."""
        if not item_ids:
            return ()
        self._build()
        rows = self.catalog.rows(item_ids)
        close = self.text_neighbours(rows, threshold)
        for s in {self._stems[r] for r in rows}:
            lo = bisect.bisect_left(self._sorted, s)
            hi = bisect.bisect_left(self._sorted, s + PAST_STEM, lo)
            for j in range(lo, hi):
                t = self._sorted[j]
                if t == s or SEQUEL.match(t[len(s):]):
                    close.add(int(self._order[j]))
        # "(Twilight, #1)": the rest of a series its titles name
        series = {normalise_title(m.group(1)) for r in rows for m in SERIES_NOTE.finditer(self.catalog.items[r].title)}
        for name in series:
            close.update(self._series.get(name, ()))
        return tuple(self.catalog.items[r].item_id for r in sorted(close - set(rows.tolist())))
