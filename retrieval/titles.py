"""One normal form of titles, for everything that compares them.

The chat's title linker (bot/conversation/linking.py) matches what people type against the catalog's
titles; the crosswalk (retrieval/crosswalk.py) joins two catalogs (ReDial and MovieLens,
IMDB facts and MovieLens) by title and year. Both read titles in the form made here:

- `fold`: lower-case ASCII; accents dropped ("Amélie" -> "amelie"), any other non-ASCII
  character read as a space ("WALL·E" -> "wall e", as "WALL-E" is), "&" read as "and";
- `title_form`: folded, parenthesised alternative titles dropped, a trailing article
  (MovieLens' "Matrix, The", "Misérables, Les") moved to the front; punctuation kept
  (series_prefixes reads colons);
- `normalise_title`: its words ("the matrix");
- `title_key`: the crosswalk's strict join key, (normalise_title without a leading
  "the"/"a"/"an", year): "The Matrix" (1999) and "Matrix, The" (1999) meet.

Knows nothing of catalogs or messages.
"""

from __future__ import annotations

import re
import unicodedata

ARTICLE_SUFFIX = re.compile(r"^(.*), (the|a|an|les|la|le|il|das|der|die|el)$")
PAREN = re.compile(r"\s*\([^)]*\)")
WORDS = re.compile(r"[a-z0-9]+")
LEADING_ARTICLE = re.compile(r"^(?:the|a|an) ")


def fold(text: str) -> str:
    """Lower case ASCII with '&' read as 'and': the form titles and messages are compared in.
    Accents are dropped; other non-ASCII characters (·, curly quotes, dashes) become spaces,
    as their ASCII counterparts split words."""
    chars = (c if c.isascii() else "" if unicodedata.combining(c) else " "
             for c in unicodedata.normalize("NFKD", text))
    return "".join(chars).lower().replace("&", " and ")


def title_form(title: str) -> str:
    """'Matrix, The (1999)' -> 'the matrix': folded, parentheses dropped, article in front;
    punctuation kept."""
    t = PAREN.sub("", fold(title)).strip()
    m = ARTICLE_SUFFIX.match(t)
    return f"{m.group(2)} {m.group(1)}" if m else t


def normalise_title(title: str) -> str:
    """'Matrix, The (1999)' -> 'the matrix'; accents and punctuation dropped."""
    return " ".join(WORDS.findall(title_form(title)))


def title_key(title: str, year: int | None) -> tuple[str, int | None]:
    """The crosswalk's join key: (normalised title without a leading English article, year)."""
    return LEADING_ARTICLE.sub("", normalise_title(title)), year
