"""Loaders for a catalog and an interaction log from CSV/TSV or JSONL files (reading the
bytes, separators and headers is retrieval/tables.py's job; the catalog's kind, units and
rating scale are retrieval/catalog_config.py's).

Every problem is reported as a `DataError` that names the file, the line and the fix.
Catalog columns: `item_id`, `title` (required); `text`, `year`, `genres` (optional;
genres separated by `|`); facet columns `people:<role>`, `num:<name>`, `cat:<name>`
(retrieval/facets.py; '|' between values); what an item is about: `topics` or `tags`
('|' between values; read, lower case, into the topic facet, retrieval/facets.py
TOPIC_FACET) and `description` (free text); any other column, `description` included, is
kept in `Item.fields`. When `text` is absent or empty it is built from title, year, genres,
topics, the facets and the description, in that order (item_text); a non-empty `text`
replaces all of that, while topics and description still fill the facet and the fields.
Interaction columns: `user_id`, `item_id` (required); `rating` (checked against the rating
scale) or `weight`; `timestamp` (Unix seconds).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from retrieval.catalog_config import DEFAULT_RATING_SCALE, CatalogConfig, config_path, infer_kind, read_config
from retrieval.facets import MAX_TOPICS_IN_TEXT, TOPIC_FACET, Facets, facet_column
from retrieval.records import Catalog, Interactions, Item
from retrieval.tables import DataError, Table, open_table, read_jsonl, require

__all__ = ["DataError", "LoadedCatalog", "item_text", "load_catalog", "load_interactions", "read_catalog",
           "read_item_rows", "read_jsonl"]

PLAIN_COLUMNS = ("item_id", "title", "text", "year", "genres")
# Columns read into the topic facet ('|' between values), in the order their values are kept.
TOPIC_COLUMNS = ("topics", "tags")
BLANK_RATINGS = ("refuse", "implicit")
# Separators people use between genres instead of '|', in the order a tie is resolved.
OTHER_SEPARATORS = (", ", ",", ";", "/")


def item_text(title: str, year: int | None, genres: Sequence[str],
              facts: Sequence[tuple[str, Sequence[str]]] = (), topics: Sequence[str] = (),
              description: str = "") -> str:
    """The text the encoder reads for a catalog item: title, year, genres, the first
    MAX_TOPICS_IN_TEXT topics, facts as (label, names) sentences, then the description last
    (the encoder cuts a long text on the right, so the short facts come first):
    "Heat (1995). Genres: Crime. Topics: robbery, heist. Directed by Michael Mann. A thief..." """
    head = f"{title} ({year})" if year else title
    parts = [f"{head}.", *([f"Genres: {', '.join(genres)}."] if genres else [])]
    parts += [f"Topics: {', '.join(topics[:MAX_TOPICS_IN_TEXT])}."] if topics else []
    parts += [f"{label} {', '.join(names)}." for label, names in facts if names]
    parts += [" ".join(description.split())] if description.strip() else []
    return " ".join(parts)


@dataclass(frozen=True)
class LoadedCatalog:
    """A catalog with what launch.py prints about it: its config (kind, units, rating scale),
    where its kind came from, and notices about columns that look wrong but still load."""

    catalog: Catalog
    config: CatalogConfig
    notices: tuple[str, ...] = ()


def split_values(value: str) -> tuple[str, ...]:
    """'Drama| War|' -> ("Drama", "War")."""
    return tuple(v.strip() for v in value.split("|") if v.strip())


def number(table: Table, line_no: int, column: str, value: str, fix: str) -> float:
    """A finite float from `value`, else a DataError naming file, line, column, value and fix.
    A decimal comma ("4,5") counts in files not separated by ','."""
    text = value.strip()
    if table.delimiter not in (",", None) and re.fullmatch(r"-?\d+,\d+", text):
        text = text.replace(",", ".")
    try:
        out = float(text)
    except ValueError:
        out = math.nan
    if not math.isfinite(out):
        raise DataError(f"{table.path}:{line_no}: column {column!r} value {value!r} is not a number; {fix}")
    return out


def _facets(table: Table, line_no: int, rec: dict[str, str], columns: dict[str, tuple[str, str]]) -> Facets:
    people: dict[str, tuple[str, ...]] = {}
    numbers: dict[str, float] = {}
    categories: dict[str, tuple[str, ...]] = {}
    for column, (prefix, name) in columns.items():
        value = rec.get(column, "")
        if not value:
            continue
        if prefix == "num":
            numbers[name] = number(table, line_no, column, value,
                                   f"write one plain number (e.g. 320) or leave it empty; units go in "
                                   f'{config_path(table.path)} as {{"units": {{"{name}": "..."}}}}')
        elif values := split_values(value):
            (people if prefix == "people" else categories)[name] = values
    topics = [*categories.get(TOPIC_FACET, ()), *(v for c in TOPIC_COLUMNS for v in split_values(rec.get(c, "")))]
    if topics:  # cat:topic, topics and tags read as one lower-case facet, first appearance kept
        categories[TOPIC_FACET] = tuple(dict.fromkeys(t.lower() for t in topics))
    return Facets(people, numbers, categories)


def _facet_columns(table: Table, line_no: int, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    out = {}
    for column in names:
        try:
            parsed = facet_column(column)
        except ValueError as e:
            raise DataError(f"{table.path}:{line_no}: {e}") from None
        if parsed is not None:
            out[column] = parsed
    return out


def separator_notice(path: Path, column: str, values: Sequence[str]) -> str | None:
    """A notice when `column` is plainly split by ',' ';' or '/' instead of '|': no value holds
    '|' and more than half hold the other separator."""
    values = [v for v in values if v]
    if not values or any("|" in v for v in values):
        return None
    counts = {sep: sum(sep in v for v in values) for sep in OTHER_SEPARATORS}
    sep = max(counts, key=lambda s: counts[s])
    if counts[sep] * 2 <= len(values):
        return None
    example = next(v for v in values if sep in v)
    fixed = "|".join(p.strip() for p in example.split(sep.strip()))
    return (f"{path}: column {column!r} is split on '|' only, but {counts[sep]} of {len(values)} rows use "
            f"{sep.strip()!r} and none '|': {example!r} is one value, not several; write {fixed!r}")


def read_catalog(path: str | Path, name: str | None = None, *, encoding: str = "utf-8",
                 config: str | Path | None = None) -> LoadedCatalog:
    """Read a catalog file (row order = file order) with its config (`config`, default
    catalog.json beside the file; see retrieval/catalog_config.py) and notices."""
    path = Path(path)
    table = open_table(path, encoding)
    if config is not None and not Path(config).is_file():
        raise DataError(f"{config}: catalog config not found; give an existing file or none")
    cfg_path = Path(config) if config is not None else config_path(path)
    cfg = read_config(cfg_path) if cfg_path.resolve() != path.resolve() else CatalogConfig()
    rows, facet_cols = _catalog_rows(table)
    kind, note = (cfg.kind, cfg.kind_note) if cfg.kind else infer_kind(path, facet_cols)
    cfg = CatalogConfig(kind, cfg.units, cfg.rating_scale, cfg.source, note)
    items = [_item(path, line_no, rec, facets, cfg.units, facet_cols) for line_no, rec, facets in rows]
    notices = [n for column in ("genres", *TOPIC_COLUMNS, *(c for c, (p, _) in facet_cols.items() if p == "cat"))
               if (n := separator_notice(path, column, [rec.get(column, "") for _, rec, _ in rows]))]
    nums = {n for p, n in facet_cols.values() if p == "num"}
    notices += [f"{cfg.source}: units name {u!r} but the catalog has no column num:{u}"
                for u in cfg.units if u not in nums]
    catalog = Catalog(name or path.stem, tuple(items), kind=kind, units=dict(cfg.units))
    return LoadedCatalog(catalog, cfg, tuple(notices))


def _catalog_rows(table: Table) -> tuple[list[tuple[int, dict[str, str], Facets]], dict[str, tuple[str, str]]]:
    """(line number, record, facets) of every catalog row, and the facet columns: the
    checks every catalog file gets (required columns, ids present and unique, facets)."""
    path = table.path
    facet_cols: dict[str, tuple[str, str]] = {}
    if table.columns is not None:
        require(table, table.header_line, dict.fromkeys(table.columns, ""), ("item_id", "title"), "a catalog")
        facet_cols = _facet_columns(table, table.header_line, table.columns)
    rows: list[tuple[int, dict[str, str], Facets]] = []
    seen: dict[str, int] = {}
    for line_no, rec in table.rows():
        require(table, line_no, rec, ("item_id", "title"), "a catalog")
        if table.columns is None:  # JSONL: keys may differ line by line
            facet_cols.update(_facet_columns(table, line_no, [k for k in rec if k not in facet_cols]))
        item_id = rec["item_id"]
        if not item_id:
            raise DataError(f"{path}:{line_no}: empty item_id; give every item an id")
        if item_id in seen:
            raise DataError(f"{path}:{line_no}: duplicate item_id {item_id!r} "
                            f"(first on line {seen[item_id]}); ids must be unique")
        seen[item_id] = line_no
        rows.append((line_no, rec, _facets(table, line_no, rec, facet_cols)))
    if not rows:
        raise DataError(f"{path}: no items; the catalog file is empty")
    return rows, facet_cols


def read_item_rows(path: str | Path, units: Mapping[str, str], *, encoding: str = "utf-8"
                   ) -> tuple[tuple[Item, ...], tuple[dict[str, str], ...]]:
    """Items of a catalog file read as `read_catalog` reads them (the same checks, errors
    and item text), with `units` for the numeric facets' sentences (an existing catalog's),
    and each item's record as read (column -> string value), in file order: the rows of a
    live catalog update (fusion/catalog_update.py), whose log keeps the records."""
    path = Path(path)
    table = open_table(path, encoding)
    rows, facet_cols = _catalog_rows(table)
    items = tuple(_item(path, line_no, rec, facets, units, facet_cols) for line_no, rec, facets in rows)
    return items, tuple(rec for _, rec, _ in rows)


def _item(path: Path, line_no: int, rec: dict[str, str], facets: Facets, units: Mapping[str, str],
          facet_cols: dict[str, tuple[str, str]]) -> Item:
    year = None
    if rec.get("year"):
        try:
            year = int(float(rec["year"]))
        except ValueError:
            raise DataError(f"{path}:{line_no}: year {rec['year']!r} is not a number; "
                            "leave it empty or write e.g. 1995") from None
    genres = split_values(rec.get("genres", ""))
    title = rec["title"]
    text = rec.get("text") or (item_text(title, year, genres, facets.sentences(units), facets.topics(),
                                         rec.get("description", "")) if title else "")
    if not text.strip() or not title:
        raise DataError(f"{path}:{line_no}: item {rec['item_id']!r} has an empty title/text; "
                        "every item needs words for the encoder")
    extra = {k: v for k, v in rec.items() if k not in (*PLAIN_COLUMNS, *TOPIC_COLUMNS) and k not in facet_cols and v}
    return Item(rec["item_id"], title, text, year, genres, extra, facets)


def load_catalog(path: str | Path, name: str | None = None, *, encoding: str = "utf-8",
                 config: str | Path | None = None) -> Catalog:
    """Read a catalog file into a `Catalog` with its kind and units set; `read_catalog`
    also returns the config and the notices (launch.py prints them)."""
    return read_catalog(path, name, encoding=encoding, config=config).catalog


def load_interactions(path: str | Path, catalog: Catalog, *, encoding: str = "utf-8",
                      rating_scale: tuple[float, float] | None = None,
                      blank_ratings: str = "refuse") -> Interactions:
    """Read an interaction log aligned to `catalog`; unknown item ids are an error.

    The weight is the `rating` column (checked against `rating_scale`, default 0.5-5), else
    the `weight` column, else 1 (an implicit log). A blank rating/weight is refused unless
    `blank_ratings` is "implicit", which counts it as weight 1."""
    if blank_ratings not in BLANK_RATINGS:
        raise ValueError(f"blank_ratings must be one of {BLANK_RATINGS}, got {blank_ratings!r}")
    low, high = rating_scale or DEFAULT_RATING_SCALE
    path = Path(path)
    table = open_table(path, encoding)
    if table.columns is not None:
        require(table, table.header_line, dict.fromkeys(table.columns, ""), ("user_id", "item_id"),
                "an interaction log")
    users: list[str] = []
    rows: list[int] = []
    weights: list[float] = []
    stamps: list[int] = []
    for line_no, rec in table.rows():
        require(table, line_no, rec, ("user_id", "item_id"), "an interaction log")
        if not rec["user_id"]:
            raise DataError(f"{path}:{line_no}: empty user_id; give every line a user")
        if rec["item_id"] not in catalog:
            raise DataError(f"{path}:{line_no}: item_id {rec['item_id']!r} is not in catalog "
                            f"{catalog.name!r}; add it to the catalog or drop this line")
        users.append(rec["user_id"])
        rows.append(catalog.row(rec["item_id"]))
        weights.append(_weight(table, line_no, rec, low, high, blank_ratings))
        stamps.append(int(number(table, line_no, "timestamp", rec["timestamp"],
                                 "write Unix seconds (e.g. 1700000000) or leave it empty"))
                      if rec.get("timestamp") else 0)
    if not users:
        raise DataError(f"{path}: no interactions; the file is empty")
    return Interactions(
        np.array(users, dtype=object), np.array(rows, dtype=np.int64),
        np.array(weights, dtype=np.float32), np.array(stamps, dtype=np.int64),
    )


def _weight(table: Table, line_no: int, rec: dict[str, str], low: float, high: float, blank: str) -> float:
    """The line's rating (within [low, high]) or weight; 1 for a log without either column."""
    column = "rating" if "rating" in rec else "weight" if "weight" in rec else None
    if column is None:
        return 1.0
    value = rec[column]
    if not value:
        if blank == "implicit":
            return 1.0
        raise DataError(f"{table.path}:{line_no}: column {column!r} is blank; fill it in or drop the line, "
                        "or pass --blank-ratings implicit to count a blank as implicit feedback (weight 1)")
    w = number(table, line_no, column, value, "write a number, e.g. 4 or 3.5")
    if column == "rating" and not low <= w <= high:
        raise DataError(f"{table.path}:{line_no}: column 'rating' value {value!r} is outside the rating scale "
                        f"{low:g}-{high:g}; fix the value, or declare the file's scale with --rating-scale "
                        'LOW-HIGH (or "rating_scale": [LOW, HIGH] in catalog.json)')
    return w
