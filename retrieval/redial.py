"""ReDial: the movie catalog (titles + DBpedia facts) and dialogues in the benchmark's shape.

Reads the shared folder `../shared/data/redial` (never copied into the repository):
`movies_with_mentions.csv`, `movie_facts.json` and dialogue files in ReDial JSON lines.
A dialogue becomes a list of `Turn`s in which every `@<movieId>` is rendered as the title,
and `recommender_samples` cuts it into the benchmark's samples (Li et al. 2018 / CRSLab):
each recommender turn that mentions a catalog movie, with everything said before it.

This module knows nothing of encoders, CF or metrics.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from retrieval.loaders import DataError, read_jsonl
from retrieval.records import Catalog, Interactions, Item

MENTION = re.compile(r"@(\d+)")
TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
# Facts that describe a movie to a viewer, in the order written into the item text;
# crew such as editing or cinematography rarely comes up in a chat and only adds tokens.
FACTS = (("director", "Directed by"), ("starring", "Starring"), ("writer", "Written by"),
         ("genre", "Genre"), ("musicComposer", "Music by"))
MAX_PER_FACT = 4  # the first four names keep an item text within ~64 word pieces


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


# MovieLens genre names read as words (the encoder sees them in item texts).
GENRE_WORDS = {"Sci-Fi": "Science fiction", "Children": "Children's", "Film-Noir": "Film noir",
               "(no genres listed)": ""}


def movie_text(title: str, year: int | None, facts: dict[str, list[str]],
               genres: Sequence[str] = ()) -> str:
    """The encoder's text for one movie: title, year, genres (borrowed, see load_catalog),
    then a few DBpedia facts."""
    parts = [f"{title} ({year})." if year else f"{title}."]
    if genres:
        parts.append(f"Genres: {', '.join(genres)}.")
    for key, label in FACTS:
        names = [_clean_name(n) for n in facts.get(key, [])][:MAX_PER_FACT]
        if names:
            parts.append(f"{label} {', '.join(names)}.")
    return " ".join(parts)


def load_catalog(data_dir: Path | None = None,
                 genres: Mapping[str, Sequence[str]] | None = None) -> Catalog:
    """The 6,924-movie ReDial catalog, in the CSV's order; item ids are ReDial movie ids.

    DBpedia has genres for almost no ReDial movie (26), while seekers ask by genre all the
    time; `genres` (movie id -> genre names, e.g. borrowed from MovieLens by
    retrieval.crosswalk.borrowed_genres) adds them to the items' genres and texts."""
    genres = genres or {}
    data_dir = data_dir or default_data_dir()
    csv_path, facts_path = data_dir / "movies_with_mentions.csv", data_dir / "movie_facts.json"
    for p in (csv_path, facts_path):
        if not p.exists():
            raise DataError(f"{p}: not found; ReDial lives in ../shared/data/redial "
                            "(pass --data-dir to point elsewhere)")
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    items = []
    with csv_path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            movie_id = row["movieId"].strip()
            title, year = split_title(row["movieName"])
            record = facts.get(movie_id, {})
            item_facts = record.get("facts", {})
            borrowed = tuple(w for g in genres.get(movie_id, ()) if (w := GENRE_WORDS.get(g, g)))
            item_genres = tuple(dict.fromkeys((*(_clean_name(g) for g in item_facts.get("genre", [])), *borrowed)))
            fields = {"mentions": row.get("nbMentions", "0")}
            items.append(Item(movie_id, title, movie_text(title, year, item_facts, borrowed), year,
                              item_genres, fields))
    return Catalog("redial", tuple(items))


@dataclass(frozen=True)
class Turn:
    """One message; `movie_ids` are the catalog movies it mentions, in order, deduplicated."""

    seeker: bool
    text: str  # with @ids rendered as titles
    movie_ids: tuple[str, ...]


@dataclass(frozen=True)
class Dialogue:
    dialogue_id: str
    turns: tuple[Turn, ...]
    seeker_liked_ids: frozenset[str]  # movies the seeker's questionnaire marks liked (=1)
    seeker_disliked_ids: frozenset[str]  # ... marks not liked (=0)


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
        turns.append(Turn(msg["senderWorkerId"] == seeker, text, ids))
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


@dataclass(frozen=True)
class Sample:
    """One benchmark sample: the turns before a recommender turn and the movies it mentions."""

    dialogue_id: str
    context: tuple[Turn, ...]
    target_ids: tuple[str, ...]
    mentioned_ids: tuple[str, ...]  # movies mentioned anywhere in `context`, first mention first
    liked_ids: tuple[str, ...]  # of those, the ones the seeker liked (questionnaire)
    disliked_ids: tuple[str, ...]


def recommender_samples(dialogues: Iterable[Dialogue], seeker_turns: bool = False) -> list[Sample]:
    """The benchmark's samples: each recommender turn that mentions a catalog movie.
    With `seeker_turns`, seeker turns that mention one (after the first turn) are samples
    too: extra TRAINING data (what a seeker names fits what they asked for); the
    benchmark itself only ever scores recommender turns."""
    samples = []
    for d in dialogues:
        mentioned: list[str] = []
        for i, turn in enumerate(d.turns):
            if turn.movie_ids and (not turn.seeker or (seeker_turns and i > 0)):
                samples.append(Sample(d.dialogue_id, d.turns[:i], turn.movie_ids, tuple(mentioned),
                                      tuple(m for m in mentioned if m in d.seeker_liked_ids),
                                      tuple(m for m in mentioned if m in d.seeker_disliked_ids)))
            mentioned.extend(m for m in turn.movie_ids if m not in mentioned)
    return samples


def context_text(context: Sequence[Turn], n_turns: int = 0) -> str:
    """The query text for a context: the last `n_turns` turns (0 = all), NEWEST FIRST.

    Newest first because encoders truncate on the right at `max_length`: what gets cut is
    then the oldest talk, not the request the recommender is answering.
    """
    turns = context[-n_turns:] if n_turns else context
    lines = [("Seeker: " if t.seeker else "Recommender: ") + t.text for t in reversed(turns)]
    return " ".join(lines) if lines else "Hello"  # an empty context still needs a query


def dialogue_interactions(dialogues: Iterable[Dialogue], catalog: Catalog) -> Interactions:
    """Seekers' liked movies as an interaction log (user = dialogue), for source-2 pairs
    and CF: weight 1 for each movie the questionnaire marks liked."""
    users, rows = [], []
    for d in dialogues:
        for m in sorted(d.seeker_liked_ids):
            if m in catalog:
                users.append(d.dialogue_id)
                rows.append(catalog.row(m))
    n = len(users)
    return Interactions(np.array(users, dtype=object), np.array(rows, np.int64),
                        np.ones(n, np.float32), np.zeros(n, np.int64))


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


def mention_counts(path: Path) -> dict[str, dict[str, int]]:
    """Per dialogue id, how many times each movie id is written `@id` in its messages
    (every occurrence, as a corpus-wide mention count may count them)."""
    out: dict[str, dict[str, int]] = {}
    for _, record in read_jsonl(path, "dialogue file"):
        counts: dict[str, int] = {}
        for msg in record.get("messages", []):
            for movie_id in MENTION.findall(str(msg.get("text", ""))):
                counts[movie_id] = counts.get(movie_id, 0) + 1
        out[str(record.get("conversationId"))] = counts
    return out
