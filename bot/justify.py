"""One-line reasons built only from the evidence that ranked an item.

Every clause states something checkable: a genre the item has that the user's words asked
for, a word shared by the request and the title, the liked/rated item whose audience gave
the CF score, or the item's number of ratings when popularity was the CF fallback.
"""

from __future__ import annotations

import re

from bot.session import Session
from fusion.recommender import Recommendation

WORD = re.compile(r"[a-z0-9']+")
# Words too common to count as a match between a request and a title.
STOP = frozenset("""a an the and or of for to in on at with about from by is are be it this that
something movie movies film films like want would some more now me my i you your good great
show please really very much one any what who""".split())


def matched_genres(rec: Recommendation, session: Session) -> list[tuple[str, tuple[str, ...]]]:
    """(item genre, user words that asked for it) for genres the item really has."""
    cues = session.wanted_cues()
    return [(g, cues[g.lower()]) for g in rec.item.genres if g.lower() in cues]


def shared_title_words(rec: Recommendation, session: Session) -> list[str]:
    said = {w for t in session.turns for w in WORD.findall(t.lower()) if w not in STOP and len(w) > 2}
    return [w for w in dict.fromkeys(WORD.findall(rec.item.title.lower())) if w in said]


def reason(rec: Recommendation, session: Session) -> str:
    parts: list[str] = []
    genres = matched_genres(rec, session)
    if genres:
        parts.append("matches what you asked for: " + ", ".join(
            f"{g} ('{words[0]}')" for g, words in genres))
    words = shared_title_words(rec, session)
    if words:
        parts.append("its title has " + ", ".join(f"'{w}'" for w in words))
    if not parts and rec.alpha > 0:
        parts.append(f"close in meaning to your description (text similarity {rec.similarity:.2f})")
    if rec.alpha < 1 and rec.cf > 0:
        if rec.cf_source == "history" and rec.evidence is not None:
            if rec.evidence.item_id in session.liked_ids:
                parts.append(f"liked by the same people as {rec.evidence.label()}, which you liked")
            else:
                parts.append(f"liked by the same people as {rec.evidence.label()}, "
                             "which you rated highly")
        elif rec.cf_source == "popularity":
            parts.append(f"popular: {rec.popularity_count} ratings in the data")
    return "; ".join(parts)
