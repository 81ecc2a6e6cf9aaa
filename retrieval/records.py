"""Typed records that cross package seams.

External item ids are strings (`*_ids`); internal catalog rows are ints (`*_rows`).
A `Catalog` owns the mapping between the two. Nothing here loads files or models.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np

from retrieval.dialogue import Utterance
from retrieval.facets import Facets, ItemKind


# "Matrix, The", "Man Called Ove, A (En man som heter Ove)": MovieLens's way of writing titles
TRAILING_ARTICLE = re.compile(r"^(.+?), (The|A|An)( \(.+\))?$")


@dataclass(frozen=True)
class Item:
    """One catalog entry. `text` is what the encoder reads; `fields` holds the parts it
    was built from (title, year, genres, ...) so justifications can cite them."""

    item_id: str
    title: str
    text: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    facets: Facets = field(default_factory=Facets)  # people, numbers, categories (retrieval/facets.py)

    def label(self) -> str:
        """Title with year as the catalog writes it ("Prestige, The (2006)"): what pipelines
        and fine-tuning pairs read."""
        return f"{self.title} ({self.year})" if self.year else self.title

    def display_title(self) -> str:
        """The title as a person writes it: a trailing article moved to the front ("Prestige,
        The" -> "The Prestige"; "City of Lost Children, The (Cité des enfants perdus, La)"
        keeps its parenthesis after the moved title)."""
        m = TRAILING_ARTICLE.match(self.title)
        return f"{m.group(2)} {m.group(1)}{m.group(3) or ''}" if m else self.title

    def display_label(self) -> str:
        """display_title with the year: what replies and reasons show."""
        return f"{self.display_title()} ({self.year})" if self.year else self.display_title()


class UnknownItemError(KeyError):
    """An external item id that the catalog does not hold."""


@dataclass(frozen=True, eq=False)
class Catalog:
    """An ordered collection of items; row i of every item-aligned array is `items[i]`.
    `kind` names its items in words ("movie / movies / watch"); `units` names the units of
    its numeric facets beyond retrieval/facets.py's defaults ({"weight": "g"}).
    `unavailable_ids` are items withdrawn from the catalog (fusion/catalog_update.py): they
    keep their rows, so the logbook, past turns and likes still name them, but are never
    recommended again (`available`)."""

    name: str
    items: tuple[Item, ...]
    kind: ItemKind = field(default_factory=ItemKind)
    units: Mapping[str, str] = field(default_factory=dict)
    unavailable_ids: frozenset[str] = frozenset()
    _row_of: dict[str, int] = field(init=False, repr=False)
    _available: np.ndarray | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        row_of: dict[str, int] = {}
        for row, item in enumerate(self.items):
            if item.item_id in row_of:
                raise ValueError(f"catalog {self.name!r}: duplicate item id {item.item_id!r}")
            row_of[item.item_id] = row
        object.__setattr__(self, "_row_of", row_of)
        unknown = sorted(i for i in self.unavailable_ids if i not in row_of)
        if unknown:
            raise ValueError(f"catalog {self.name!r}: unavailable ids {unknown[:5]} are not among its items")
        if self.unavailable_ids:
            available = np.ones(len(self.items), bool)
            available[[row_of[i] for i in self.unavailable_ids]] = False
            available.setflags(write=False)
            object.__setattr__(self, "_available", available)

    def available(self) -> np.ndarray | None:
        """bool (n_items,) read-only: the items that may be recommended; None when every
        item may (no item was withdrawn)."""
        return self._available

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row_of

    def row(self, item_id: str) -> int:
        try:
            return self._row_of[item_id]
        except KeyError:
            raise UnknownItemError(
                f"item id {item_id!r} is not in catalog {self.name!r} ({len(self)} items)"
            ) from None

    def rows(self, item_ids: "list[str] | tuple[str, ...]") -> np.ndarray:
        """int64 rows for external ids; raises UnknownItemError on the first unknown id."""
        return np.array([self.row(i) for i in item_ids], dtype=np.int64)

    def texts(self) -> list[str]:
        return [item.text for item in self.items]

    def fingerprint(self) -> str:
        """sha256 over ids and texts: artifacts built for another catalog are detected."""
        h = hashlib.sha256()
        for item in self.items:
            h.update(item.item_id.encode())
            h.update(b"\x00")
            h.update(item.text.encode())
            h.update(b"\x01")
        if self.unavailable_ids:  # a catalog without withdrawn items keeps the fingerprint it always had
            h.update(b"\x02" + "\x00".join(sorted(self.unavailable_ids)).encode())
        return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Interactions:
    """User-item events aligned to a catalog: parallel arrays of equal length.

    `user_ids` are external user ids (strings); `item_rows` index the catalog;
    `weights` are ratings or implicit strengths (float32); `timestamps` are int64 seconds
    (0 when unknown).
    """

    user_ids: np.ndarray  # object array of str, shape (n,)
    item_rows: np.ndarray  # int64, shape (n,)
    weights: np.ndarray  # float32, shape (n,)
    timestamps: np.ndarray  # int64, shape (n,)

    def __post_init__(self) -> None:
        n = len(self.user_ids)
        if not (len(self.item_rows) == len(self.weights) == len(self.timestamps) == n):
            raise ValueError("Interactions arrays must have equal length")

    def __len__(self) -> int:
        return len(self.user_ids)

    @staticmethod
    def empty() -> "Interactions":
        """No events: a catalog served before it has any interaction log (text only)."""
        return Interactions(np.zeros(0, dtype=object), np.zeros(0, np.int64), np.zeros(0, np.float32),
                            np.zeros(0, np.int64))

    def users(self) -> list[str]:
        """Distinct user ids, sorted."""
        return sorted(set(self.user_ids.tolist()))

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update("\x00".join(self.user_ids.tolist()).encode())
        for arr in (self.item_rows, self.weights, self.timestamps):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class FacetFilter:
    """Keeps the items whose facet matches (or, with `negate`, drops them).

    kind "people": `name` is a role ("" = any role), `values` the people, any one matches.
    kind "cat": `name` is the category facet ("mpaa"), `values` its values, any one matches.
    kind "num": `name` is the numeric facet ("runtime"), `low`/`high` an inclusive range.
    An item that lacks the facet is left out by a plain filter (nothing to check it by)
    and kept by a negated one (nothing says it holds what was ruled out). `unknown_passes`
    (plain numeric filters only) keeps it too: how the bot fills a list when too few items
    with the facet fit ("under 2 hours" and "after 2005", where runtimes stop in 2005).
    """

    kind: str
    name: str = ""
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    negate: bool = False
    unknown_passes: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("people", "cat", "num"):
            raise ValueError(f"facet filter kind must be people, cat or num, got {self.kind!r}")
        if self.unknown_passes and (self.kind != "num" or self.negate):
            raise ValueError("only a plain numeric facet filter can let items without the facet pass")
        if self.kind == "num" and self.low is None and self.high is None:
            raise ValueError("a numeric facet filter needs low or high")
        if self.kind != "num" and not self.values:
            raise ValueError(f"a {self.kind} facet filter needs values")

    def known(self, facets: Facets) -> bool:
        """Whether the item carries the facet this filter reads."""
        if self.kind == "people":
            return bool(facets.names(self.name or None))
        if self.kind == "cat":
            return bool(facets.categories.get(self.name))
        return self.name in facets.numbers

    def holds(self, facets: Facets) -> bool:
        """Whether the item has what the filter names (False when it lacks the facet)."""
        if not self.known(facets):
            return False
        if self.kind == "num":
            v = facets.numbers[self.name]
            return (self.low is None or v >= self.low) and (self.high is None or v <= self.high)
        have = facets.names(self.name or None) if self.kind == "people" else facets.categories[self.name]
        folded = {h.casefold() for h in have}
        return any(v.casefold() in folded for v in self.values)

    def or_unknown(self) -> "FacetFilter":
        """This filter letting items without the facet pass, where that is allowed (a plain
        numeric filter); any other filter as it is."""
        return replace(self, unknown_passes=True) if self.kind == "num" and not self.negate else self

    def keeps(self, facets: Facets) -> bool:
        if self.unknown_passes and not self.known(facets):
            return True
        if self.negate:
            return not self.holds(facets)
        return self.holds(facets)


@dataclass(frozen=True)
class Query:
    """What the bot asks retrieval+fusion for in one turn.

    `texts` are the user's descriptions, oldest first, with `text_weights` (how much each
    turn counts; the bot's BotConfig decides); `anchor_ids` the items the person named or
    pointed at, whose catalog vectors join them (`anchor_weights`, equal when not given).
    `banned_terms` are lower-case words whose presence in an item's genres or title
    removes it ("no cartoons" -> "animation"). `years` (first, last), inclusive, None on
    an open side, keeps only items released in that range ("after 2000" -> (2001, None));
    items without a year are left out when it is set.
    """

    texts: tuple[str, ...]
    text_weights: tuple[float, ...] = ()
    liked_ids: tuple[str, ...] = ()
    disliked_ids: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()
    banned_terms: tuple[str, ...] = ()
    years: tuple[int | None, int | None] | None = None
    user_id: str | None = None
    k: int = 10
    alpha: float | None = None
    context: tuple[Utterance, ...] = ()  # the conversation as turns (retrieval/dialogue.py): what
    # a pipeline in context mode embeds, and where it finds the items mentioned so far
    wanted_genres: tuple[str, ...] = ()  # lower-case genres the current request asks for
    wanted_topics: tuple[str, ...] = ()  # topics (retrieval/facets.py TOPIC_FACET) it asks for
    facet_filters: tuple[FacetFilter, ...] = ()  # all must keep an item (people, categories, numbers)
    audience: str = ""  # "kids": only items the catalog shows fit for children (fusion/filters.py kids_rows)
    # items whose catalog vectors join the texts in the query ("more like Heat"), with their
    # weights beside `text_weights`: the item as the index holds it, nothing to encode
    anchor_ids: tuple[str, ...] = ()
    anchor_weights: tuple[float, ...] = ()

    def weights(self) -> np.ndarray:
        """Per-text weights (float32, shape (len(texts),)); equal when not given."""
        return _weights_or_equal(self.text_weights, len(self.texts))

    def anchor_weight_array(self) -> np.ndarray:
        """Per-anchor weights (float32, shape (len(anchor_ids),)); equal when not given."""
        return _weights_or_equal(self.anchor_weights, len(self.anchor_ids))


def _weights_or_equal(given: tuple[float, ...], n: int) -> np.ndarray:
    """`given` as float32, or n ones when none are given."""
    return np.asarray(given, dtype=np.float32) if given else np.ones(n, dtype=np.float32)


@dataclass(frozen=True)
class Candidates:
    """Retrieved catalog rows with their text similarity, best first."""

    item_rows: np.ndarray  # int64, shape (n,)
    text_scores: np.ndarray  # float32, shape (n,), cosine similarity to the query


@dataclass(frozen=True)
class LoggedSession:
    """One logged chat session as learning reads it (bot/offline/learn.py builds these from the
    logbook, after the consent rule): what the person said and how they reacted.

    `messages[i]` is turn i's message. `liked` / `disliked` are (item id, turn index) in
    the order given, each item once, as the session ended (an "unlike" takes either back).
    `rated_lists` are (turn index, rating 1-5, the item ids shown at that turn, in rank
    order), the latest rating of each rated turn.
    """

    session_id: str
    messages: tuple[str, ...]
    liked: tuple[tuple[str, int], ...] = ()
    disliked: tuple[tuple[str, int], ...] = ()
    rated_lists: tuple[tuple[int, int, tuple[str, ...]], ...] = ()
    user_id: str | None = None  # a known user bound to the session
    participant_id: str | None = None  # a study participant
    started: str = ""  # UTC ISO 8601 of the session's first log entry

    def taste_key(self) -> str:
        """Whose taste the session shows, as CF's user id: the known user, else the study
        participant (their sessions together), else the session alone."""
        if self.user_id is not None:
            return self.user_id
        if self.participant_id is not None:
            return f"participant:{self.participant_id}"
        return f"session:{self.session_id}"
