"""Reasons built only from the evidence that ranked an item.

`claims` lists typed, checkable statements: a genre the item has that the user's words
asked for, a word shared by the request and the title, its release year when the user
limited the years, the text similarity, the liked or
rated item whose audience gave the CF score, or the item's number of ratings when
popularity was the CF fallback; for a pipeline that learnt from conversations, the item
it was talked about with, the item it was liked together with, and how often recommenders
named it. A `ReasonWriter` turns claims into words; the default is a
plain template. A richer writer (e.g. a language model) can be plugged in, but it only
ever receives these claims, so it has nothing else to assert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bot.session import Session
from fusion.recommender import Recommendation

WORD = re.compile(r"[a-z0-9']+")
# Words too common to count as a match between a request and a title.
STOP = frozenset("""a an the and or of for to in on at with about from by is are be it this that
something movie movies film films like want would some more now me my i you your good great
show please really very much one any what who""".split())


@dataclass(frozen=True)
class Claim:
    """kind: genre | title_word | years | similar_text | liked_audience | rated_audience | popular |
    talked_together (co-mentioned in a training conversation) | co_liked (liked together by
    raters of a linked ratings log) | recommended (times named by training recommenders)."""

    kind: str
    value: str  # the genre, the word, the evidence item's label, or a number
    cue: str = ""  # the user's word behind a genre claim


def claims(rec: Recommendation, session: Session) -> list[Claim]:
    out: list[Claim] = []
    cues = session.wanted_cues()
    out += [Claim("genre", g, cues[g.lower()][0]) for g in rec.item.genres if g.lower() in cues]
    said = {w for t in session.turns for w in WORD.findall(t.lower()) if w not in STOP and len(w) > 2}
    out += [Claim("title_word", w) for w in dict.fromkeys(WORD.findall(rec.item.title.lower())) if w in said]
    if session.years is not None and rec.item.year is not None and session.years.contains(rec.item.year):
        out.append(Claim("years", str(rec.item.year), session.years.describe()))
    if not any(c.kind != "years" for c in out) and rec.alpha > 0:
        out.append(Claim("similar_text", f"{rec.similarity:.2f}"))
    if rec.alpha < 1 and rec.cf > 0:
        if rec.cf_source == "history" and rec.evidence is not None:
            liked = rec.evidence.item_id in session.liked_ids
            out.append(Claim("liked_audience" if liked else "rated_audience", rec.evidence.label()))
        elif rec.cf_source == "conversations" and rec.evidence is not None:
            out.append(Claim("talked_together", rec.evidence.label()))
        elif rec.cf_source == "popularity":
            out.append(Claim("popular", str(rec.popularity_count)))
    # Terms of a pipeline that learnt from conversations (fusion/terms.py), when weighted.
    if rec.terms.get("ratings", 0) > 0 and "ratings" in rec.term_evidence:
        out.append(Claim("co_liked", rec.term_evidence["ratings"].label()))
    if rec.terms.get("popularity", 0) > 0 and rec.term_counts.get("popularity", 0) > 0:
        out.append(Claim("recommended", str(rec.term_counts["popularity"])))
    return out


class ReasonWriter(Protocol):
    def write(self, claims: list[Claim], rec: Recommendation) -> str: ...


class TemplateWriter:
    """One line, each claim in fixed words."""

    def write(self, claims: list[Claim], rec: Recommendation) -> str:
        parts: list[str] = []
        genres = [c for c in claims if c.kind == "genre"]
        if genres:
            parts.append("matches what you asked for: " + ", ".join(f"{c.value} ('{c.cue}')" for c in genres))
        words = [c.value for c in claims if c.kind == "title_word"]
        if words:
            parts.append("its title has " + ", ".join(f"'{w}'" for w in words))
        for c in claims:
            if c.kind == "years":
                parts.append(f"from {c.value}, within the years you asked for ({c.cue})")
            elif c.kind == "similar_text":
                parts.append(f"close in meaning to your description (text similarity {c.value})")
            elif c.kind == "liked_audience":
                parts.append(f"liked by the same people as {c.value}, which you liked")
            elif c.kind == "rated_audience":
                parts.append(f"liked by the same people as {c.value}, which you rated highly")
            elif c.kind == "popular":
                parts.append(f"popular: {c.value} ratings in the data")
            elif c.kind == "talked_together":
                parts.append(f"people who talked about {c.value} in past conversations also talked about it")
            elif c.kind == "co_liked":
                parts.append(f"also liked by people who rated {c.value} highly")
            elif c.kind == "recommended":
                times = "once" if c.value == "1" else f"{c.value} times"
                parts.append(f"recommended {times} in past conversations")
        return "; ".join(parts)


def reason(rec: Recommendation, session: Session, writer: ReasonWriter | None = None) -> str:
    return (writer or TemplateWriter()).write(claims(rec, session), rec)
