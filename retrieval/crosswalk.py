"""Linking two catalogs of the same kind of thing by normalised title and year.

Lets one catalog borrow another's interaction log: ReDial has dialogues but few
interactions, MovieLens has 100k ratings; linking their movies turns MovieLens ratings
into CF for ReDial items. The key is strict on purpose (same normalised title AND same
year), so a link is almost never wrong; what it misses simply gets no borrowed CF.

Normalisation: retrieval/titles.py `title_key`, the form the chat's title linker reads
titles in too (accents and punctuation folded, alternative titles in parentheses dropped,
"Matrix, The" and "The Matrix" alike).

Knows nothing of files, encoders or CF: catalogs in, a row mapping (or borrowed genres) out.
"""

from __future__ import annotations

from retrieval.records import Catalog, Interactions
from retrieval.titles import title_key


def link_rows(source: Catalog, target: Catalog) -> dict[int, int]:
    """source row -> target row for items whose (normalised title, year) match; items
    without a year never link; where a key is shared by several items on one side, the
    first one (catalog order) is used."""
    first: dict[tuple[str, int | None], int] = {}
    for row, item in enumerate(target.items):
        if item.year is not None:
            first.setdefault(title_key(item.title, item.year), row)
    out: dict[int, int] = {}
    taken: set[int] = set()
    for row, item in enumerate(source.items):
        if item.year is None:
            continue
        hit = first.get(title_key(item.title, item.year))
        if hit is not None and hit not in taken:
            out[row] = hit
            taken.add(hit)
    return out


def liked_baskets(interactions: Interactions, links: dict[int, int], min_rating: float) -> list[list[int]]:
    """Per source user, the linked target rows they rated at least `min_rating`
    (users with fewer than two such rows carry no co-occurrence and are dropped)."""
    by_user: dict[str, list[int]] = {}
    keep = interactions.weights >= min_rating
    for user, row in zip(interactions.user_ids[keep], interactions.item_rows[keep]):
        hit = links.get(int(row))
        if hit is not None:
            by_user.setdefault(str(user), []).append(hit)
    return [rows for rows in by_user.values() if len(rows) >= 2]


def borrowed_genres(source: Catalog, target: Catalog, links: dict[int, int]) -> dict[str, tuple[str, ...]]:
    """target item id -> the genres of the source item linked to it (`link_rows`), for
    linked source items that have genres."""
    return {target.items[t].item_id: source.items[s].genres
            for s, t in links.items() if source.items[s].genres}
