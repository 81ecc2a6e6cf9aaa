"""A live catalog update: items added, replaced or withdrawn, the pipeline rebuilt aside.

`read_change` reads the rows of an update as `--catalog` reads a catalog file (the same
loader, checks, errors and item text: retrieval/loaders.py `read_item_rows`) and the ids
to withdraw; `apply_change` makes a new `Recommender` of the next catalog version and
leaves the given one untouched, so a caller swaps one reference (bot/service/admin.py)
and turns in flight finish on the version they started with. Nothing is half-applied:
any error leaves only the old version.

Every part sees the change:
- the catalog: a new row per new item (rows only grow); a replaced item keeps its row; a
  withdrawn one keeps its row too, for the logbook, past turns and likes, but is marked
  unavailable (retrieval/records.py) and so never recommended: the request's filter
  leaves it out of the FAISS search (an ID selector), CF's candidates and the pool;
- item vectors: new and replaced items are embedded by the pipeline's own item encoder
  (the fine-tuned one) from the loader's item text; the FAISS index takes them by row
  (retrieval/index.py `FaissIndex.updated`);
- CF: new items are cold (fusion/grown.py: score 0, popularity 0, no evidence) until a
  rebuild or `bot.learn` fits them;
- the terms read from the catalog (genres, topics, people, vectors) are rebuilt over the
  new catalog; terms fitted on the old rows keep them (fusion/grown.py `GrownTerm`);
- the bot's title linking and vocabulary are built from the new catalog by the new Bot
  made over the new pipeline (bot/service/admin.py).

What this module does NOT know: files beyond the rows read, HTTP, sessions.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from fusion.grown import ColdItemsCF, GrownTerm
from fusion.recommender import Recommender
from fusion.terms import popular_term, request_terms
from retrieval.loaders import DataError, read_item_rows
from retrieval.records import Catalog, Item
from retrieval.retriever import Retriever


@dataclass(frozen=True)
class CatalogChange:
    """One update: `items` to add or replace (by id; read and checked by the loader), with
    `records`, their rows as read (column -> value), which the update log keeps; and
    `remove_ids`, items to withdraw. An id may not be both added and withdrawn."""

    items: tuple[Item, ...] = ()
    records: tuple[Mapping[str, str], ...] = ()
    remove_ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.items) + len(self.remove_ids)


@dataclass(frozen=True)
class UpdateReport:
    """What one update did, for the admin route's answer and the log."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    restored: tuple[str, ...]  # withdrawn before, given again: available again
    n_items: int
    n_available: int
    encode_s: float
    seconds: float
    catalog: str  # the new catalog's fingerprint

    def to_dict(self) -> dict:
        return {"added": list(self.added), "updated": list(self.updated), "removed": list(self.removed),
                "restored": list(self.restored), "items": self.n_items, "available": self.n_available,
                "encode_s": round(self.encode_s, 3), "seconds": round(self.seconds, 3), "catalog": self.catalog}


def read_change(catalog: Catalog, rows_file: str | Path | None = None, remove_ids: Sequence[str] = (),
                encoding: str = "utf-8", label: str | None = None) -> CatalogChange:
    """The change a rows file (CSV/TSV/JSONL, a catalog file's columns) and a list of ids to
    withdraw ask of `catalog`; a DataError (the loader's, with `label` for the file's name
    when given) for a bad row, an unknown id to withdraw, or an id both given and withdrawn."""
    items, records = (), ()
    if rows_file is not None:
        try:
            items, records = read_item_rows(rows_file, catalog.units, encoding=encoding)
        except DataError as e:
            raise DataError(str(e).replace(str(rows_file), label) if label else str(e)) from None
    remove = tuple(dict.fromkeys(str(i) for i in remove_ids))
    unknown = [i for i in remove if i not in catalog]
    if unknown:
        raise DataError(f"cannot withdraw {unknown[:5]}: not in catalog {catalog.name!r}; "
                        "check the ids (withdrawn items stay in the catalog, so an id is never lost)")
    both = sorted({it.item_id for it in items} & set(remove))
    if both:
        raise DataError(f"items {both[:5]} are both given and withdrawn; give each id once")
    if not items and not remove:
        raise DataError("an update needs rows to add or replace, or ids to withdraw")
    return CatalogChange(items, records, remove)


def change_from_rows(catalog: Catalog, rows: Sequence[object], remove_ids: Sequence[str] = ()) -> CatalogChange:
    """`read_change` over rows given as JSON objects (the admin route's body): they are read
    as the lines of a JSONL catalog file, so errors name 'rows:N' (N = 1 for the first)."""
    if not isinstance(rows, (list, tuple)):
        raise DataError("'rows' must be a list of objects, one per item")
    if not rows:
        return read_change(catalog, None, remove_ids)
    with tempfile.TemporaryDirectory(prefix="catalog-rows-") as tmp:
        path = Path(tmp) / "rows.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return read_change(catalog, path, remove_ids, label="rows")


def next_catalog(catalog: Catalog, change: CatalogChange) -> tuple[Catalog, list[int], dict[str, list[str]]]:
    """(the catalog after `change`, the row of each of change.items in it, ids by what
    happened to them: added, updated, removed, restored)."""
    items = list(catalog.items)
    rows, what = [], {"added": [], "updated": [], "removed": [], "restored": []}
    appended: dict[str, int] = {}
    for item in change.items:
        if item.item_id in catalog:
            row = catalog.row(item.item_id)
            items[row] = item
            what["updated"].append(item.item_id)
        else:
            row = appended.setdefault(item.item_id, len(items))
            items.append(item)
            what["added"].append(item.item_id)
        rows.append(row)
    given = {it.item_id for it in change.items}
    what["restored"] = sorted(given & catalog.unavailable_ids)
    what["removed"] = [i for i in change.remove_ids if i not in catalog.unavailable_ids]
    unavailable = (catalog.unavailable_ids - given) | frozenset(change.remove_ids)
    return Catalog(catalog.name, tuple(items), catalog.kind, catalog.units, unavailable), rows, what


def apply_change(recommender: Recommender, change: CatalogChange,
                 vectors: np.ndarray | None = None) -> tuple[Recommender, UpdateReport, np.ndarray]:
    """(the pipeline of the next catalog version, what changed, the vectors of
    change.items (float32 (len(items), dim)): what the update log keeps). `vectors` given
    (a replay of the log) are used instead of encoding. `recommender` is not modified."""
    t0 = time.perf_counter()
    old = recommender.retriever
    index = old.index
    if not hasattr(index, "updated"):
        raise ValueError(f"a {type(index).__name__} is not updated live yet: rebuild it with the new catalog")
    catalog, rows, what = next_catalog(recommender.catalog, change)
    if vectors is None:
        vectors = (old.encoder.encode([it.text for it in change.items]) if change.items
                   else np.zeros((0, old.item_vectors.shape[1]), np.float32))
    vectors = np.asarray(vectors, np.float32)
    if vectors.shape != (len(change.items), old.item_vectors.shape[1]):
        raise ValueError(f"vectors of shape {vectors.shape} for {len(change.items)} items of dimension "
                         f"{old.item_vectors.shape[1]}")
    encode_s = time.perf_counter() - t0
    n_old = len(recommender.catalog)
    item_vectors = np.zeros((len(catalog), old.item_vectors.shape[1]), np.float32)
    item_vectors[:n_old] = old.item_vectors
    item_vectors[rows] = vectors  # a row given twice: the last row's vector, as the last item
    changed = np.array(sorted({r for r in rows if r < n_old}), np.int64)
    retriever = Retriever(catalog, old.encoder, item_vectors, index.updated(item_vectors, changed),
                          old.query_encoder)
    cf = recommender.cf if len(catalog) == n_old else ColdItemsCF(recommender.cf, len(catalog))
    rebuilt = {t.name: t for t in request_terms(catalog, item_vectors)}
    if "popular" in recommender.terms:
        rebuilt["popular"] = popular_term(cf.counts)
    terms = []
    for name, term in recommender.terms.items():
        fresh = rebuilt.get(name)
        if fresh is not None and type(fresh) is type(term):
            terms.append(fresh)
        elif len(catalog) == n_old:
            terms.append(term)
        else:
            terms.append(GrownTerm(term, n_old, len(catalog)))
    if recommender.config.rerank and len(catalog) != n_old:
        raise ValueError("the second stage was fitted on the old rows and is not updated live yet: "
                         "rebuild to add items to a pipeline with rerank on")
    new = Recommender(retriever, cf, recommender.config, terms, recommender.second_stage)
    with recommender._lock:  # what people said is embedded the same under any catalog
        new._embedded = OrderedDict(recommender._embedded)
    available = catalog.available()
    report = UpdateReport(tuple(what["added"]), tuple(what["updated"]), tuple(what["removed"]),
                          tuple(what["restored"]), len(catalog),
                          len(catalog) if available is None else int(available.sum()),
                          encode_s, time.perf_counter() - t0, catalog.fingerprint())
    return new, report, vectors
