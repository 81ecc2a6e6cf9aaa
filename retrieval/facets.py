"""What an item is (its kind of item) and what it carries besides title, year and genres.

`ItemKind` names the items of a catalog in words ("movie / movies / watch", "book / books /
read"): the UI, replies and reasons use it, so nothing says "movie" in a bookshop.

`Facets` are named, typed attributes of one item:
- people by role: {"director": ("Christopher Nolan",), "cast": (...), "author": (...)}
- numbers: {"runtime": 94.0, "pages": 320.0}
- categories: {"mpaa": ("PG-13",), "language": ("French",)}; the category named TOPIC_FACET
  holds what the item is about ({"topic": ("heist", "los angeles")}, lower case)

A catalog file declares them by column: `people:<role>`, `num:<name>`, `cat:<name>`, with
'|'-separated values (retrieval/loaders.py). A facet an item lacks is simply absent: the
bot says it does not know rather than guess. Knows nothing of files, models or sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

FACET_KINDS = ("people", "num", "cat")  # the column prefixes of a catalog file
NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a role or facet name: lower case, no spaces

# How a facet reads in the item text the encoder sees and in reasons ("Directed by ...").
ROLE_PHRASES = {"director": "Directed by", "cast": "Starring", "writer": "Written by",
                "author": "By", "artist": "By", "creator": "Created by", "brand": "Made by",
                "composer": "Music by", "narrator": "Narrated by", "editor": "Edited by"}
# How a role reads before a name in a request or a reason ("movies directed by X", "with X").
ROLE_WORDS = {"director": "directed by", "cast": "with", "writer": "written by", "author": "by",
              "composer": "music by", "creator": "created by", "artist": "by", "brand": "by"}
# How a category limit reads in a request or a reason ("rated PG", "in French", "set in 1920s").
CATEGORY_WORDS = {"topic": "about", "mpaa": "rated", "certification": "rated", "language": "in", "setting": "set in",
                  "place": "set in", "location": "set in", "period": "set in", "era": "set in"}
CATEGORY_PHRASES = {"mpaa": "Rated", "certification": "Rated", "language": "In",
                    "country": "From", "studio": "From", "publisher": "Published by"}
# Units of numeric facets named in words; a catalog config may add its own.
MAX_PEOPLE = 3  # names per role on a facet line ("Christian Bale, Hugh Jackman, Michael Caine")
# Numeric facets that say how long an item is ("a short one", "how long is X?"), in the order tried.
LENGTH_FACETS = ("runtime", "pages", "duration", "length")
DEFAULT_UNITS = {"runtime": "min", "pages": "pages", "duration": "min", "length": "min"}
# Names per role written into an item text: four keep a text within ~64 word pieces; the
# facet itself keeps every name (filters and reasons read all of them).
MAX_NAMES_IN_TEXT = 4
# The category facet of what an item is about ("heist", "time travel"): the item text reads
# it right after the genres (retrieval/loaders.py item_text), so `Facets.sentences` and
# `facet_line` leave it out rather than write it a second time or list dozens of keywords.
TOPIC_FACET = "topic"
# Topics written into an item text: eight keep them within ~25 word pieces, leaving room
# for people and a description in a 128-piece window; the facet keeps every topic.
MAX_TOPICS_IN_TEXT = 8


@dataclass(frozen=True)
class ItemKind:
    """The words for one kind of item. `synonyms` are other words people use for it
    ("film" for a movie, "novel" for a book): they never match titles or genres."""

    noun: str = "item"
    plural: str = "items"
    verb: str = "choose"  # what people do with one: watch, read, buy
    synonyms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("noun", "plural", "verb"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or not re.fullmatch(r"[a-z][a-z \-]*", value):
                raise ValueError(f"item kind {name} must be a lower-case word, got {value!r}")

    def words(self) -> frozenset[str]:
        """Every word that names this kind of item (lower case, singular and plural)."""
        out = {self.noun, self.plural}
        for s in self.synonyms:
            out |= {s, s + "s"}
        return frozenset(out)


MOVIE = ItemKind("movie", "movies", "watch", ("film", "flick", "picture"))
BOOK = ItemKind("book", "books", "read", ("novel", "title", "read"))
PRODUCT = ItemKind("product", "products", "buy", ("item",))
KINDS = {"movie": MOVIE, "book": BOOK, "product": PRODUCT, "item": ItemKind()}


@dataclass(frozen=True)
class Facets:
    """Named attributes of one item (see the module docstring). Values are as the catalog
    spells them; comparisons fold case."""

    people: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: Mapping[str, float] = field(default_factory=dict)
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.people or self.numbers or self.categories)

    def names(self, role: str | None = None) -> tuple[str, ...]:
        """People in `role`, or in every role (first appearance kept), in catalog order."""
        roles = [role] if role is not None else list(self.people)
        return tuple(dict.fromkeys(n for r in roles for n in self.people.get(r, ())))

    def roles_of(self, person: str) -> tuple[str, ...]:
        """The roles `person` (any case) holds in this item."""
        p = person.casefold()
        return tuple(r for r, names in self.people.items() if any(n.casefold() == p for n in names))

    def topics(self) -> tuple[str, ...]:
        """What the item is about (the TOPIC_FACET category), in catalog order."""
        return tuple(self.categories.get(TOPIC_FACET, ()))

    def has_category(self, name: str, value: str) -> bool:
        v = value.casefold()
        return any(x.casefold() == v for x in self.categories.get(name, ()))

    def sentences(self, units: Mapping[str, str] | None = None,
                  max_names: int | None = None) -> list[tuple[str, tuple[str, ...]]]:
        """(label, values) pairs for the item text: ("Directed by", ("Christopher Nolan",)),
        ("Runtime:", ("113 min",)), ("Rated", ("PG-13",)). Order is fixed (roles, categories,
        numbers) so the same facets always give the same text. `max_names` keeps the first
        that many names per role (e.g. MAX_NAMES_IN_TEXT); None keeps all. The topics
        (TOPIC_FACET) are not among them: item_text writes them after the genres."""
        units = {**DEFAULT_UNITS, **(units or {})}
        out = [(ROLE_PHRASES.get(r, f"{r.capitalize()}:"), names[:max_names])
               for r, names in self.people.items() if names]
        out += [(CATEGORY_PHRASES.get(c, f"{c.capitalize()}:"), vals) for c, vals in self.categories.items()
                if vals and c != TOPIC_FACET]
        out += [(f"{n.capitalize()}:", (format_number(v, units.get(n, "")),)) for n, v in self.numbers.items()]
        return out


def facet_line(facets: Facets, units: Mapping[str, str] | None = None) -> str:
    """One line of what an item carries besides title, year and genres, in a fixed order:
    people (each role's first MAX_PEOPLE names), numbers with units, categories:
    "Christopher Nolan · Christian Bale, Hugh Jackman · 130 min · PG-13". A number without
    a known unit is named ("rating 4.2"), since a bare number means nothing. "" when the
    item has no facets: what it lacks is left out, never guessed. Topics (TOPIC_FACET) are
    left out: a movie has dozens, and the line shows what the item is, not what it is about."""
    units = {**DEFAULT_UNITS, **(units or {})}
    parts = [", ".join(names[:MAX_PEOPLE]) for names in facets.people.values() if names]
    for name, value in facets.numbers.items():
        unit = units.get(name, "")
        parts.append(format_number(value, unit) if unit else f"{name.replace('_', ' ')} {format_number(value)}")
    parts += [", ".join(values) for name, values in facets.categories.items() if values and name != TOPIC_FACET]
    return " · ".join(parts)


def format_number(value: float, unit: str = "") -> str:
    """94.0, "min" -> "94 min"; 4.5, "" -> "4.5"."""
    text = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{text} {unit}".strip()


def facet_column(column: str) -> tuple[str, str] | None:
    """'people:director' -> ("people", "director"); None for a column that is not a facet.
    Raises ValueError for a facet column with a bad prefix or name (the loader adds file/line)."""
    if ":" not in column:
        return None
    prefix, _, name = column.partition(":")
    prefix, name = prefix.strip().lower(), name.strip().lower()
    if prefix not in FACET_KINDS:
        raise ValueError(f"column {column!r}: a facet column starts with one of "
                         f"{', '.join(p + ':' for p in FACET_KINDS)} (e.g. people:director, num:runtime, cat:language)")
    if not NAME.match(name):
        raise ValueError(f"column {column!r}: the facet name after {prefix + ':'!r} must be a lower-case word "
                         "(letters, digits, '_'), e.g. people:director")
    return prefix, name
