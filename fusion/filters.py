"""What a query's filters let through, from indexes built once per catalog.

A turn's filters (banned genre/title words, release years, facet filters) become a bool
mask over the catalog without a Python pass over every item: banned words look up a
term -> rows inverted index, years compare one int array, and each facet filter reads a
per-facet index (numbers: one float array, NaN where an item lacks the facet; categories
and people: casefolded value -> rows). Each index is built on first use and kept.
`tests/test_filters.py` checks every mask against the straightforward per-item reading
(`FacetFilter.keeps`, the item's term set) on the tiny catalogs and a random one.
Knows nothing of scoring, text or chat wording.
"""

from __future__ import annotations

import re
import threading
from typing import Iterable

import numpy as np

from retrieval.records import Catalog, FacetFilter, Query

WORD = re.compile(r"[a-z0-9]+")
RATING_FACET = "mpaa"  # the category facet of age ratings (MovieLens: from IMDB, up to 2005)
ADULT_RATINGS = ("R", "NC-17", "PG-13")  # ratings left out for a kids' audience
KID_GENRE_ADULT = 0.5  # a genre whose rated items are less adult than this share is fit for children
KID_GENRE_PRIOR = 10.0  # ... the share smoothed towards the catalog's own by this many rated items


def item_terms(title: str, genres: Iterable[str]) -> frozenset[str]:
    """An item's lower-case genres and title words: what a ban matches."""
    return frozenset({g.lower() for g in genres} | set(WORD.findall(title.lower())))


def _postings(pairs: dict[str, list[int]]) -> dict[str, np.ndarray]:
    return {k: np.array(v, np.int64) for k, v in pairs.items()}


class ItemFilters:
    """Masks for `Query` filters over one catalog; indexes built lazily, once."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()  # turns run in parallel threads
        self._terms: dict[str, np.ndarray] | None = None
        self._years: np.ndarray | None = None
        self._numbers: dict[str, np.ndarray] = {}
        self._categories: dict[str, dict[str, np.ndarray]] = {}
        self._people: dict[str, dict[str, np.ndarray]] = {}  # role ("" = any) -> name -> rows
        self._kids: np.ndarray | None = None

    def warm(self) -> None:
        """Build the term index and the year array now (a server's start), not on the
        first ban or year turn. Facet indexes stay lazy: one per facet a filter names."""
        self.term_rows()
        self.years()

    # --- indexes ---------------------------------------------------------------------
    def term_rows(self) -> dict[str, np.ndarray]:
        """term -> int64 rows of the items whose genres or title words hold it."""
        with self._lock:
            if self._terms is None:
                rows: dict[str, list[int]] = {}
                by_genres: dict[tuple[str, ...], frozenset[str]] = {}
                for row, it in enumerate(self.catalog.items):
                    genres = by_genres.get(it.genres)
                    if genres is None:
                        genres = by_genres.setdefault(it.genres, frozenset(g.lower() for g in it.genres))
                    for t in genres | set(WORD.findall(it.title.lower())):
                        rows.setdefault(t, []).append(row)
                self._terms = _postings(rows)
            return self._terms

    def kids_rows(self) -> np.ndarray:
        """bool (n_items,): the items fit for a kids' audience, as the catalog shows it. An
        item with an age rating: one that is not adult (ADULT_RATINGS). One without (most
        MovieLens films after 2005): one of a genre whose rated items are mostly not adult
        (MovieLens: Children 4% and Animation 35% adult; Horror 99%, Comedy 82%), so an
        unrated thriller is not offered to children; each share is smoothed towards the
        catalog's (KID_GENRE_PRIOR), so eight IMAX films, three of them adult, do not make
        a genre fit. Without any rating in the catalog, every item (nothing to judge by)."""
        with self._lock:
            if self._kids is None:
                n = len(self.catalog)
                ratings = [it.facets.categories.get(RATING_FACET, ()) for it in self.catalog.items]
                rated = np.array([bool(r) for r in ratings])
                adult = np.array([any(v in ADULT_RATINGS for v in r) for r in ratings])
                if not rated.any():
                    self._kids = np.ones(n, bool)
                else:
                    by_genre: dict[str, list[int]] = {}
                    for row, it in enumerate(self.catalog.items):
                        for g in it.genres:
                            by_genre.setdefault(g, []).append(row)
                    fit = np.zeros(n, bool)
                    overall = float(adult[rated].mean())
                    for rows in by_genre.values():
                        rows = np.array(rows, np.int64)
                        judged = rows[rated[rows]]
                        share = (adult[judged].sum() + KID_GENRE_PRIOR * overall) / (len(judged) + KID_GENRE_PRIOR)
                        if share < KID_GENRE_ADULT:
                            fit[rows] = True
                    self._kids = np.where(rated, ~adult, fit)
            return self._kids

    def years(self) -> np.ndarray:
        """int64 (n_items,): release year, -1 when unknown."""
        with self._lock:
            if self._years is None:
                self._years = np.array([-1 if it.year is None else it.year for it in self.catalog.items], np.int64)
            return self._years

    def numbers(self, name: str) -> np.ndarray:
        """float64 (n_items,): numeric facet `name`, NaN where an item lacks it."""
        with self._lock:
            if name not in self._numbers:
                self._numbers[name] = np.array([it.facets.numbers.get(name, np.nan) for it in self.catalog.items],
                                               np.float64)
            return self._numbers[name]

    def categories(self, name: str) -> dict[str, np.ndarray]:
        """casefolded value of category facet `name` -> rows holding it."""
        with self._lock:
            if name not in self._categories:
                rows: dict[str, list[int]] = {}
                for row, it in enumerate(self.catalog.items):
                    for v in {v.casefold() for v in it.facets.categories.get(name, ())}:
                        rows.setdefault(v, []).append(row)
                self._categories[name] = _postings(rows)
            return self._categories[name]

    def people(self, role: str) -> dict[str, np.ndarray]:
        """casefolded person -> rows crediting them in `role` ("" = any role)."""
        with self._lock:
            if role not in self._people:
                rows: dict[str, list[int]] = {}
                for row, it in enumerate(self.catalog.items):
                    if it.facets.people:
                        for v in {n.casefold() for n in it.facets.names(role or None)}:
                            rows.setdefault(v, []).append(row)
                self._people[role] = _postings(rows)
            return self._people[role]

    # --- masks -----------------------------------------------------------------------
    def holds(self, f: FacetFilter) -> np.ndarray:
        """bool (n_items,): `FacetFilter.holds` of every item."""
        n = len(self.catalog)
        if f.kind == "num":
            v = self.numbers(f.name)
            out = ~np.isnan(v)  # an item without the facet holds nothing
            if f.low is not None:
                out &= v >= f.low
            if f.high is not None:
                out &= v <= f.high
            return out
        index = self.people(f.name) if f.kind == "people" else self.categories(f.name)
        out = np.zeros(n, bool)
        for value in f.values:
            rows = index.get(value.casefold())
            if rows is not None:
                out[rows] = True
        return out

    def mask(self, query: Query) -> np.ndarray | None:
        """bool (n_items,) mask of the items the query's filters let through (banned
        genre/title words, release years, facets); None when it has no filter."""
        banned = frozenset(t.lower() for t in query.banned_terms)
        kids = query.audience == "kids"
        if not banned and query.years is None and not query.facet_filters and not kids:
            return None
        mask = self.kids_rows().copy() if kids else np.ones(len(self.catalog), bool)
        if banned:
            terms = self.term_rows()
            for t in banned:
                rows = terms.get(t)
                if rows is not None:
                    mask[rows] = False
        if query.years is not None:
            first, last = query.years
            years = self.years()  # -1 for an unknown year: below any bound, so left out
            mask &= years >= (first if first is not None else 0)
            mask &= years <= (last if last is not None else 10_000)
        for f in query.facet_filters:
            held = self.holds(f)
            if f.unknown_passes:  # a plain numeric filter: items without the number pass too
                held |= np.isnan(self.numbers(f.name))
            mask &= ~held if f.negate else held
        return mask
