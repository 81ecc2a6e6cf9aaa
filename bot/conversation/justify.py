"""Reasons built only from the evidence that ranked an item.

`claims` lists typed, checkable statements:
- what the person asked for and the item has: a topic it is about (from its topic facet, or
  named in its own description: the reason quotes the words around it), a genre they
  named in their own words, a
  person they asked for (in that role), a numeric limit it meets ("runs 94 min"), a
  category (rated PG), its release year when they limited the years;
- a person it shares with an item they liked ("also directed by Michael Mann, like Heat");
- the liked or rated item whose audience gave the CF score, or its number of ratings when
  popularity was the CF fallback or the weighted "popular" prior (only from MIN_POPULAR
  ratings up);
- for a pipeline that learnt from conversations: the item it was talked about with, liked
  together with, and how often recommenders named it; for one that learnt from its own
  logbook (`python -m bot.offline.learn`): the liked item it was liked with in earlier chats;
- when nothing else applies, that it is close to the person's own description (quoted)
  or to the item they liked: no raw similarity numbers.
A `ReasonWriter` turns claims into words; the default is a plain template. A richer writer
(e.g. a language model) can be plugged in, but it only ever receives these claims, so it has
nothing else to assert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Protocol

from bot.conversation.state import Session
from fusion.cf import MIN_POPULARITY_COUNT as MIN_POPULAR  # below it, no popularity score at all
from fusion.recommender import Recommendation
from retrieval.facets import CATEGORY_WORDS, DEFAULT_UNITS, ROLE_WORDS, TOPIC_FACET, format_number
from retrieval.records import Catalog, FacetFilter, Item

QUOTE_WORDS = 8  # words of the person's description quoted in a reason
DESCRIPTION_WORDS = 12  # words of an item's own description quoted around a topic
# term (fusion/terms.py) whose evidence is an item -> the claim that cites it: items rated
# highly together, talked about in one dialogue, liked in one of the bot's own logged chats
EVIDENCE_CLAIMS = (("ratings", "co_liked"), ("dialogues", "talked_together"), ("logbook", "liked_in_chats"))
# an asked-for topic -> the catalog's topics near it, lower case (fusion/terms.py TopicTerm.near_topics)
NearTopics = Callable[[str], "frozenset[str]"]


@dataclass(frozen=True)
class Claim:
    """kind: genre | person (value: name, cue: role) | shared_person (value: name, cue: role,
    detail: the liked item's label) | number (value: "94 min", cue: the limit) | category
    (value, cue: facet) | years | described (value: the person's words) | like_liked (value:
    the liked item's label) | liked_audience | mentioned_audience | rated_audience | popular | talked_together |
    co_liked | liked_in_chats | recommended."""

    kind: str
    value: str
    cue: str = ""
    detail: str = ""


def describe_limit(f: FacetFilter, unit: str) -> str:
    """A numeric filter's range in words: "at most 120 min", "at least 300 pages", "90-120 min"."""
    if f.low is None:
        return "at most " + format_number(f.high, unit)
    if f.high is None:
        return "at least " + format_number(f.low, unit)
    return f"{format_number(f.low)}-{format_number(f.high, unit)}"


def _requested_people(session: Session) -> list[tuple[str, str]]:
    return [(f.values[0], f.name) for f in session.facet_filters if f.kind == "people" and not f.negate]


def topic_claims(item: Item, topics: tuple[str, ...], near: NearTopics | None = None) -> list[Claim]:
    """A claim per asked-for topic the item carries in its topic facet or names in its own
    description, with the description's words around the topic where it names it; else for
    a near topic it carries ("boxer" when "boxing" was asked for), named as it is: one that
    `near` (the ranking's own judge, fusion/terms.py TopicTerm.near_topics) calls near."""
    description = item.fields.get("description", "")
    carried = tuple(item.facets.categories.get(TOPIC_FACET, ()))
    have = {t.casefold() for t in carried}
    out = []
    for topic in topics:
        fragment = quote_around(description, topic)
        if topic.casefold() in have or fragment:
            out.append(Claim("topic", topic, detail=fragment))
            continue
        # a near topic the ranking gave part credit for (fusion/terms.py TopicTerm): "boxer" for "boxing"
        close = near(topic) if near is not None else frozenset()
        choices = [t for t in carried if t.casefold() in close]
        if choices:
            # one the description quotes ("...for boxer Maggie Fitzgerald..."), then one with the
            # very words asked for ("shadow boxing" before "boxer shorts"), then the shortest
            quotes, words = {t: quote_around(description, t) for t in choices}, set(topic.casefold().split())
            named = min(choices, key=lambda t: (not quotes[t], not words <= set(t.casefold().split()), len(t.split())))
            out.append(Claim("topic", named, detail=quotes[named]))
    return out


def quote_around(text: str, topic: str, words: int = DESCRIPTION_WORDS) -> str:
    """About `words` words of `text` around the first place it names `topic` (the topic's
    last word may be plural there: "dog" matches "dogs"), "..." where cut; "" when it does not."""
    m = re.search(rf"\b{re.escape(topic)}(?:s|es)?\b", text, re.IGNORECASE)
    if m is None:
        return ""
    tokens = list(re.finditer(r"\S+", text))
    at = next(i for i, t in enumerate(tokens) if t.end() > m.start())
    a = max(0, at - words // 2)
    b = min(len(tokens), a + words)
    a = max(0, b - words)
    quoted = text[tokens[a].start():tokens[b - 1].end()].strip(" ,;:")
    return ("..." if a > 0 else "") + quoted + ("..." if b < len(tokens) else "")


def claims(rec: Recommendation, session: Session, catalog: Catalog | None = None,
           near: NearTopics | None = None) -> list[Claim]:
    """The claims about `rec` in `session`; `catalog` (the one `rec` came from) lets a reason
    cite the liked items' facets and the catalog's units, `near` the near topics it carries."""
    out: list[Claim] = []
    item, facets = rec.item, rec.item.facets
    units = {**DEFAULT_UNITS, **(dict(catalog.units) if catalog is not None else {})}

    def liked_item(item_id: str) -> Item | None:
        return catalog.items[catalog.row(item_id)] if catalog is not None and item_id in catalog else None

    out += topic_claims(item, session.wanted_topics(), near)
    cues = session.wanted_cues()
    out += [Claim("genre", g, cues[g.lower()][0]) for g in item.genres if g.lower() in cues]
    for name, role in _requested_people(session):
        roles = facets.roles_of(name)
        if roles and (not role or role in roles):
            out.append(Claim("person", name, role or roles[0]))
    for f in session.facet_filters:
        if f.negate:
            continue
        if f.kind == "num" and f.known(facets) and f.keeps(facets):
            limit = describe_limit(f, units.get(f.name, ""))
            out.append(Claim("number", format_number(facets.numbers[f.name], units.get(f.name, "")), limit, f.name))
        elif f.kind == "num" and not f.known(facets):  # listed to fill a list (bot/conversation/chat.py recommend)
            out.append(Claim("number_unknown", f.name, describe_limit(f, units.get(f.name, ""))))
        elif f.kind == "cat" and f.keeps(facets):
            have = [v for v in facets.categories.get(f.name, ()) if v.casefold() in {x.casefold() for x in f.values}]
            out.append(Claim("category", have[0], f.name))
    asked = {n.casefold() for n, _ in _requested_people(session)}
    for liked_id in session.liked_ids[-5:]:
        liked = liked_item(liked_id)
        if liked is None:
            continue
        for role in ("director", "author", "writer", "cast"):
            shared = [n for n in facets.names(role) if n in liked.facets.names(role) and n.casefold() not in asked]
            if shared:
                out.append(Claim("shared_person", shared[0], role, liked.display_label()))
                break
    if session.years is not None and item.year is not None and session.years.contains(item.year):
        out.append(Claim("years", str(item.year), session.years.describe()))
    if not out and rec.alpha > 0:
        described = [r.text for r in session.readings if r.text]
        if described:
            words = described[-1].split()
            out.append(Claim("described", " ".join(words[:QUOTE_WORDS]) + (" ..." if len(words) > QUOTE_WORDS else "")))
        elif session.liked_ids and (liked := liked_item(session.liked_ids[-1])) is not None:
            out.append(Claim("like_liked", liked.display_label()))
    if rec.alpha < 1 and rec.cf > 0:
        if rec.cf_source == "history" and rec.evidence is not None and rec.evidence.item_id in session.disliked_ids:
            pass  # a disliked item's audience is no reason to offer anything: say nothing of taste
        elif rec.cf_source == "history" and rec.evidence is not None:
            ev = rec.evidence.item_id
            # a pipeline that reads the whole conversation counts every item named in it
            # (the bot's own earlier picks too): say where it came from, never "as you did"
            mentioned = any(ev in t.item_ids for t in session.transcript)
            kind = ("liked_audience" if ev in session.liked_ids else "mentioned_audience" if mentioned
                    else "rated_audience")
            out.append(Claim(kind, rec.evidence.display_label()))
        elif rec.cf_source == "conversations" and rec.evidence is not None:
            out.append(Claim("talked_together", rec.evidence.display_label()))
        elif rec.cf_source == "popularity" and rec.popularity_count >= MIN_POPULAR:
            out.append(Claim("popular", str(rec.popularity_count)))
    # Terms of a pipeline that learnt from conversations or its own logbook (fusion/terms.py),
    # when weighted: the item each one's evidence names, once per kind of claim.
    for term, kind in EVIDENCE_CLAIMS:
        if (rec.terms.get(term, 0) > 0 and term in rec.term_evidence
                and not any(c.kind == kind for c in out)):
            out.append(Claim(kind, rec.term_evidence[term].display_label()))
    if (rec.terms.get("popular", 0) > 0 and rec.term_counts.get("popular", 0) >= MIN_POPULAR
            and not any(c.kind == "popular" for c in out)):
        out.append(Claim("popular", str(rec.term_counts["popular"])))
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
        topics = {c.value.casefold() for c in claims if c.kind == "topic"}
        genres = [c for c in genres if c.cue.casefold() not in topics]  # "heist" said once: as the topic
        about = [c for c in claims if c.kind == "topic"]
        if genres or about:  # "Comedy ('funny'), about dog, as you asked: '...'": one "as you asked"
            named = [f"{c.value} ('{c.cue}')" if c.cue.lower() != c.value.lower() else c.value for c in genres]
            named += [f"about {c.value}" for c in about]
            quote = next((c.detail for c in about if c.detail), "")
            parts.append(", ".join(named) + ", as you asked" + (f": \"{quote}\"" if quote else ""))
        for c in claims:
            if c.kind == "person":
                parts.append(f"{ROLE_WORDS.get(c.cue, 'with')} {c.value}, whom you asked for")
            elif c.kind == "shared_person":
                parts.append(f"also {ROLE_WORDS.get(c.cue, 'with')} {c.value}, like {c.detail}, which you liked")
            elif c.kind == "number":
                verb = "runs" if c.detail in ("runtime", "duration", "length") else "has"
                parts.append(f"{verb} {c.value} ({c.cue}, as you asked)")
            elif c.kind == "number_unknown":
                parts.append(f"no {c.value} in my data, so I can't promise {c.cue} "
                             f"(too few with a known {c.value} fit)")
            elif c.kind == "category":
                parts.append(f"{CATEGORY_WORDS.get(c.cue, c.cue + ':')} {c.value}, as you asked")
            elif c.kind == "years":
                parts.append(f"from {c.value}, within the years you asked for ({c.cue})")
            elif c.kind == "described":
                parts.append(f"close to what you described ('{c.value}')")
            elif c.kind == "like_liked":
                parts.append(f"close to {c.value}, which you liked")
            elif c.kind == "liked_audience":
                parts.append(f"liked by people who loved {c.value}, which you liked")
            elif c.kind == "mentioned_audience":
                parts.append(f"liked by people who rated {c.value} highly, which came up in this conversation")
            elif c.kind == "rated_audience":
                parts.append(f"liked by people who rated {c.value} highly, as you did")
            elif c.kind == "popular":
                parts.append(f"popular: {c.value} ratings in the data")
            elif c.kind == "talked_together":
                parts.append(f"people who talked about {c.value} in past conversations also talked about it")
            elif c.kind == "co_liked":
                parts.append(f"also liked by people who rated {c.value} highly")
            elif c.kind == "liked_in_chats":
                parts.append(f"people who liked {c.value} in earlier chats here also liked it")
            elif c.kind == "recommended":
                times = "once" if c.value == "1" else f"{c.value} times"
                parts.append(f"recommended {times} in past conversations")
        text = "; ".join(parts)
        return text[:1].upper() + text[1:]


def reason(rec: Recommendation, session: Session, writer: ReasonWriter | None = None,
           catalog: Catalog | None = None, near: NearTopics | None = None) -> str:
    return (writer or TemplateWriter()).write(claims(rec, session, catalog, near), rec)
