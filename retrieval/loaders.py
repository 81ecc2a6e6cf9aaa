"""Generic loaders for a catalog and an interaction log from CSV or JSONL files.

Every problem is reported as a `DataError` that names the file, the line and the fix.
Catalog columns: `item_id`, `title` (required); `text`, `year`, `genres` (optional;
genres separated by `|`). When `text` is absent it is built from title, year and genres.
Interaction columns: `user_id`, `item_id` (required); `rating`/`weight`, `timestamp`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from retrieval.records import Catalog, Interactions, Item


class DataError(ValueError):
    """A data file that cannot be used as it is; the message says where and what to do."""


def item_text(title: str, year: int | None, genres: Sequence[str],
              facts: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """The text the encoder reads for a catalog item: title, year, genres, then facts as
    (label, names) sentences: "Heat (1995). Genres: Crime. Directed by Michael Mann." """
    head = f"{title} ({year})" if year else title
    parts = [f"{head}.", *([f"Genres: {', '.join(genres)}."] if genres else [])]
    parts += [f"{label} {', '.join(names)}." for label, names in facts if names]
    return " ".join(parts)


def read_jsonl(path: Path, what: str = "file") -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON value) for each non-blank line; a missing file or a line
    that is not JSON is a DataError naming the file and line."""
    if not path.exists():
        raise DataError(f"{path}: {what} not found")
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{line_no}: not valid JSON ({e.msg}); "
                                "write one JSON object per line") from None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, record) pairs from a .csv or .jsonl file; values as stripped strings."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for row in reader:
                yield reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k}
    elif suffix in (".jsonl", ".json"):
        for line_no, record in read_jsonl(path):
            if not isinstance(record, dict):
                raise DataError(f"{path}:{line_no}: expected a JSON object per line")
            yield line_no, {str(k): "" if v is None else str(v).strip() for k, v in record.items()}
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv or .jsonl")


def _require(path: Path, line_no: int, record: dict[str, str], columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in record]
    if missing:
        raise DataError(f"{path}:{line_no}: missing column(s) {missing}; "
                        f"the file needs columns {list(columns)}")


def load_catalog(path: str | Path, name: str | None = None) -> Catalog:
    """Read a catalog file into a `Catalog` (row order = file order)."""
    path = Path(path)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for line_no, rec in _rows(path):
        _require(path, line_no, rec, ("item_id", "title"))
        item_id = rec["item_id"]
        if not item_id:
            raise DataError(f"{path}:{line_no}: empty item_id; give every item an id")
        if item_id in seen:
            raise DataError(f"{path}:{line_no}: duplicate item_id {item_id!r} "
                            f"(first on line {seen[item_id]}); ids must be unique")
        seen[item_id] = line_no
        year = None
        if rec.get("year"):
            try:
                year = int(float(rec["year"]))
            except ValueError:
                raise DataError(f"{path}:{line_no}: year {rec['year']!r} is not a number; "
                                "leave it empty or write e.g. 1995") from None
        genres = tuple(g.strip() for g in rec.get("genres", "").split("|") if g.strip())
        title = rec["title"]
        text = rec.get("text") or (item_text(title, year, genres) if title else "")
        if not text.strip() or not title:
            raise DataError(f"{path}:{line_no}: item {item_id!r} has an empty title/text; "
                            "every item needs words for the encoder")
        extra = {k: v for k, v in rec.items() if k not in ("item_id", "title", "text", "year", "genres") and v}
        items.append(Item(item_id, title, text, year, genres, extra))
    if not items:
        raise DataError(f"{path}: no items; the catalog file is empty")
    return Catalog(name or path.stem, tuple(items))


def load_interactions(path: str | Path, catalog: Catalog) -> Interactions:
    """Read an interaction log aligned to `catalog`; unknown item ids are an error."""
    path = Path(path)
    users: list[str] = []
    rows: list[int] = []
    weights: list[float] = []
    stamps: list[int] = []
    for line_no, rec in _rows(path):
        _require(path, line_no, rec, ("user_id", "item_id"))
        if not rec["user_id"]:
            raise DataError(f"{path}:{line_no}: empty user_id")
        if rec["item_id"] not in catalog:
            raise DataError(f"{path}:{line_no}: item_id {rec['item_id']!r} is not in catalog "
                            f"{catalog.name!r}; add it to the catalog or drop this line")
        raw_w = rec.get("rating") or rec.get("weight") or "1"
        try:
            w = float(raw_w)
            ts = int(float(rec.get("timestamp") or 0))
        except ValueError:
            raise DataError(f"{path}:{line_no}: rating/weight/timestamp must be numbers") from None
        users.append(rec["user_id"])
        rows.append(catalog.row(rec["item_id"]))
        weights.append(w)
        stamps.append(ts)
    if not users:
        raise DataError(f"{path}: no interactions; the file is empty")
    return Interactions(
        np.array(users, dtype=object), np.array(rows, dtype=np.int64),
        np.array(weights, dtype=np.float32), np.array(stamps, dtype=np.int64),
    )
