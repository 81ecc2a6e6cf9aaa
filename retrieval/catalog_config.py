"""What a catalog file does not say in its rows: the kind of its items, the units of its
numeric facets and the scale of its ratings.

They come from `catalog.json` beside the catalog file (one catalog per folder):

    {"kind": {"noun": "book", "plural": "books", "verb": "read", "synonyms": ["novel"]},
     "units": {"pages": "pages"}, "rating_scale": [1, 5]}

every key optional; "kind" may also name a built-in kind: "movie", "book", "product", "item".
Without a declared kind it is inferred from the facet columns (`people:author`, `num:pages`
-> book; `people:director`, `num:runtime` -> movie; ...), then from the file name, else the
generic "item"; the loader reports which. Knows nothing of rows or models.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from retrieval.facets import KINDS, NAME, ItemKind
from retrieval.tables import DataError

CONFIG_NAME = "catalog.json"
KEYS = ("kind", "units", "rating_scale")
# MovieLens half stars (0.5-5) and plain 1-5 stars both fit; anything else is declared.
DEFAULT_RATING_SCALE = (0.5, 5.0)
# Facet columns that only one kind of item has; a catalog with columns of two kinds is "item".
KIND_COLUMNS = {
    "book": ("people:author", "num:pages", "cat:isbn"),
    "movie": ("people:director", "people:cast", "num:runtime", "cat:mpaa"),
    "product": ("people:brand", "num:price", "cat:sku"),
}
KIND_FILE_WORDS = {"book": ("book", "books", "novels"), "movie": ("movie", "movies", "film", "films"),
                   "product": ("product", "products")}


@dataclass(frozen=True)
class CatalogConfig:
    """A catalog's declared (or inferred) kind, units and rating scale. `kind` None means
    "infer it"; `rating_scale` None means "the default, unless a flag says otherwise";
    `kind_note` says where the kind came from, for launch.py to print."""

    kind: ItemKind | None = None
    units: Mapping[str, str] = field(default_factory=dict)
    rating_scale: tuple[float, float] | None = None
    source: Path | None = None  # the catalog.json read, if any
    kind_note: str = ""


def config_path(catalog_path: Path) -> Path:
    """Where the config of `catalog_path` lives: catalog.json in the same folder."""
    return catalog_path.parent / CONFIG_NAME


def parse_rating_scale(text: str) -> tuple[float, float]:
    """"1-5" / "0.5-5" / "1..10" / "1–5" -> (low, high); ValueError saying the form."""
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|\.\.|:)\s*(-?\d+(?:\.\d+)?)\s*", text)
    if not m:
        raise ValueError(f"rating scale {text!r} must look like LOW-HIGH, e.g. 1-5 or 0.5-5")
    return check_scale(float(m.group(1)), float(m.group(2)))


def check_scale(low: float, high: float) -> tuple[float, float]:
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError(f"rating scale {low:g}-{high:g} must have LOW < HIGH, e.g. 1-5")
    return float(low), float(high)


def _kind(value: object, where: str) -> ItemKind:
    """A built-in kind's name or a {"noun", "plural", "verb", "synonyms"} object."""
    if isinstance(value, str):
        if value.strip().lower() not in KINDS:
            raise DataError(f"{where}: unknown kind {value!r}; use one of {sorted(KINDS)} or an object "
                            '{"noun": "book", "plural": "books", "verb": "read", "synonyms": ["novel"]}')
        return KINDS[value.strip().lower()]
    if not isinstance(value, dict) or not isinstance(value.get("noun"), str):
        raise DataError(f'{where}: "kind" must be a name ("book") or an object with at least "noun", e.g. '
                        '{"noun": "book", "plural": "books", "verb": "read", "synonyms": ["novel"]}')
    unknown = sorted(set(value) - {"noun", "plural", "verb", "synonyms"})
    if unknown:
        raise DataError(f'{where}: "kind" has unknown key(s) {unknown}; its keys are noun, plural, verb, synonyms')
    noun = value["noun"].strip().lower()
    base = KINDS.get(noun)  # {"noun": "book"} alone is the built-in book
    synonyms = value.get("synonyms", list(base.synonyms) if base else [])
    if not isinstance(synonyms, list) or not all(isinstance(s, str) and s.strip() for s in synonyms):
        raise DataError(f'{where}: "kind" "synonyms" must be a list of words, e.g. ["novel"]')
    try:
        return ItemKind(noun, value.get("plural", base.plural if base else noun + "s"),
                        value.get("verb", base.verb if base else "choose"),
                        tuple(s.strip().lower() for s in synonyms))
    except ValueError as e:
        raise DataError(f'{where}: "kind": {e}') from None


def read_config(path: Path) -> CatalogConfig:
    """The config in `path` (a catalog.json), validated; an empty config when it is absent."""
    if not path.is_file():
        return CatalogConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8; save it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix it or remove the file") from None
    if not isinstance(data, dict):
        raise DataError(f'{path}: must hold one JSON object, e.g. {{"kind": "book", "rating_scale": [1, 5]}}')
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise DataError(f"{path}: unknown key(s) {unknown}; a catalog config has {list(KEYS)}")
    kind = _kind(data["kind"], str(path)) if "kind" in data else None
    units = data.get("units", {})
    if not isinstance(units, dict) or not all(isinstance(k, str) and NAME.match(k) and isinstance(v, str)
                                              for k, v in units.items()):
        raise DataError(f'{path}: "units" must map numeric facet names to unit words, e.g. '
                        '{"pages": "pages", "weight": "g"} (for columns num:pages, num:weight)')
    scale = None
    if "rating_scale" in data:
        raw = data["rating_scale"]
        if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, (int, float))
                                                                and not isinstance(x, bool) for x in raw)):
            raise DataError(f'{path}: "rating_scale" must be [LOW, HIGH], e.g. [1, 5]; got {raw!r}')
        try:
            scale = check_scale(*raw)
        except ValueError as e:
            raise DataError(f'{path}: "rating_scale": {e}') from None
    note = f"kind {kind.noun} (from {path})" if kind else ""
    return CatalogConfig(kind, {k: v.strip() for k, v in units.items()}, scale, path, note)


def infer_kind(catalog_path: Path, columns: Iterable[str]) -> tuple[ItemKind, str]:
    """The kind a catalog without a declared kind most likely holds, and a note saying why."""
    columns = set(columns)
    hints = {kind: [c for c in cols if c in columns] for kind, cols in KIND_COLUMNS.items()}
    hints = {kind: cols for kind, cols in hints.items() if cols}
    how = f'; declare "kind" in {config_path(catalog_path)} to change it'
    if len(hints) == 1:
        (kind, cols), = hints.items()
        return KINDS[kind], f"kind {kind} (inferred from column {', '.join(cols)}{how})"
    if len(hints) > 1:
        said = "; ".join(f"{', '.join(cols)} -> {kind}" for kind, cols in hints.items())
        return KINDS["item"], f"kind item (the columns disagree: {said}{how})"
    words = set(re.findall(r"[a-z]+", catalog_path.stem.lower()))
    named = [kind for kind, ws in KIND_FILE_WORDS.items() if words & set(ws)]
    if len(named) == 1:
        return KINDS[named[0]], f"kind {named[0]} (inferred from the file name {catalog_path.name}{how})"
    return KINDS["item"], f"kind item (nothing in the columns or the file name names one{how})"
