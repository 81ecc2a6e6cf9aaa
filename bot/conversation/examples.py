"""Three example requests a new visitor could type, built from the catalog so that they
read in its own domain and the bot can answer each: a genre (with one left out), a
well-known item to start from, and a person the catalog credits most (else a decade).
Used by the greeting, the help replies and the service's self-test. Knows nothing of
sessions or scoring.
"""

from __future__ import annotations

from collections import Counter

from retrieval.facets import ROLE_WORDS
from retrieval.records import Catalog

# roles a request by person reads well with ("movies directed by Clint Eastwood")
REQUEST_ROLES = ("director", "cast", "author", "writer")


def example_requests(catalog: Catalog, popular_row: int | None = None) -> tuple[str, ...]:
    """Up to three requests (fewer when the catalog lacks genres, items or years)."""
    kind = catalog.kind
    out = []
    # genres on at most half the items: "Fiction" on every book says nothing
    counts = Counter(g for it in catalog.items for g in it.genres)
    counts = Counter({g: n for g, n in counts.items() if n <= len(catalog.items) / 2}) or counts
    if counts:
        first = counts.most_common(1)[0][0]
        # the most common genre among items without the first: a contrast people would name
        other = Counter(g for it in catalog.items if first not in it.genres for g in it.genres if g in counts)
        lead = f"{first} {kind.plural}"  # "Comedy movies", "Fantasy books"
        out.append(f"{lead}, but no {other.most_common(1)[0][0].lower()}" if other else lead)
    if catalog.items:
        item = catalog.items[popular_row if popular_row is not None else 0]
        out.append(f"I loved {item.title}, more {kind.plural} like that")
    credits = Counter((name, role) for it in catalog.items for role, names in it.facets.people.items()
                      if role in REQUEST_ROLES for name in names)
    years = sorted(it.year for it in catalog.items if it.year)
    if credits:
        (name, role), _ = max(credits.items(), key=lambda kv: (kv[1], kv[0]))
        out.append(f"{kind.plural.capitalize()} {ROLE_WORDS[role]} {name}")
    elif years:
        decade = years[len(years) // 2] // 10 * 10  # the median item's decade
        out.append(f"{kind.plural.capitalize()} from the {decade}s")
    return tuple(out)
