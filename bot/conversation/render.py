"""How a turn reads in the chat: the Markdown reply (what was noted, what is left out or
limited, what could not be used, then the picks with facets and reasons) and the escaping
that keeps catalog text inert. Plain strings from records; no gradio.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from bot.conversation.state import Session
from bot.conversation.vocabulary import canonical
from retrieval.facets import (
    CATEGORY_WORDS,
    DEFAULT_UNITS,
    ROLE_WORDS,
    TOPIC_FACET,
    facet_line,
    format_number,
)

if TYPE_CHECKING:
    from bot.conversation.chat import Bot, RankedItem

NOTED_MAX = 3  # likes/dislikes named in a reply's "Noted:" line


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~<>])")


def escape(text: str) -> str:
    """Catalog text shown as text: HTML-escaped and Markdown-inert."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def left_out(session: Session) -> str:
    """'horror, anything about alien, titles with 'aliens', 'alien'' ("" when nothing is
    ruled out)."""
    words = ", ".join(f"'{escape(w)}'" for w in session.banned_words)
    topics = ", ".join(escape(v) for f in session.facet_filters if topic_ruled_out(f) for v in f.values)
    return ", ".join(session.banned_genres + ((f"anything about {topics}",) if topics else ())
                     + ((f"titles with {words}",) if words else ()))


def topic_ruled_out(f) -> bool:
    """A filter leaving out what is about a topic ("no vampires"): said with what is left out."""
    return f.kind == "cat" and f.name == TOPIC_FACET and f.negate


def picks(n: int, new: bool = False) -> str:
    """'Here are 3 picks' / 'Here is 1 new pick'."""
    return f"Here {'are' if n != 1 else 'is'} {n} {'new ' if new else ''}pick{'s' if n != 1 else ''}"


def render(items: tuple[RankedItem, ...], session: Session, bot: Bot) -> str:
    lines = []
    last = session.readings[-1] if session.readings else None
    took = taken(last, bot) if last is not None else ""
    if took:
        lines.append(took)
    if last is not None and last.seen_ids:
        seen = [escape(bot.label(i)) for i in last.seen_ids]
        lines.append(f"Noted that you have seen {', '.join(seen[:NOTED_MAX])}: I won't suggest "
                     f"{'it' if len(seen) == 1 else 'them'}.")
    limits = tuple(f for f in session.facet_filters if not topic_ruled_out(f))
    if session.banned_genres or session.banned_words or len(limits) < len(session.facet_filters):
        lines.append(f"Leaving out: {left_out(session)}.")
    if session.years is not None:
        lines.append(f"Years: {session.years.describe()}.")
    if limits:
        lines.append(f"Only {bot.kind.plural} {describe_filters(limits, bot.catalog)}.")
    if last is not None:
        for what in last.unusable:
            lines.append(f"I can't filter by {what} yet; I used the rest of your message.")
        for phrase in last.unused:
            lines.append(f"I can't rule out '{escape(phrase)}': it is not a genre, person or title I know, "
                         "so I left it out of the request.")
    if not items:
        lines.append("I found nothing new that fits everything you said. Try loosening a constraint.")
        return "\n".join(lines)
    lines.append(f"{picks(len(items))}:" if len(session.turns) <= 1
                 else f"{picks(len(items), new=True)}, taking all you said into account:")
    for it in items:
        item = it.recommendation.item
        genres = ", ".join(item.genres)
        facets = facet_line(item.facets, bot.catalog.units)  # "Michael Mann · Al Pacino, ... · 170 min · R"
        lines.append(f"{it.recommendation.rank}. **{escape(item.display_label())}**"
                     + (f" · {escape(genres)}" if genres else "")
                     + (f"  \n   {escape(facets)}" if facets else "")
                     + (f"  \n   _{escape(it.reason)}_" if it.reason else ""))
    return "\n".join(lines)


def taken(reading, bot: Bot) -> str:
    """The one line that says what the bot took from this message, with the way to undo
    it: "Noted: you like Heat (1995); not horror; 1990-1999. Say 'undo' to take it back." """
    if reading.act == "undo":
        named = ", ".join([escape(bot.label(i)) for i in reading.undone_ids[:NOTED_MAX]]
                          + [escape(bot.genre_names.get(v, v)) for v in reading.undone_values])
        if named:
            return f"Taken back: what I noted about {named}."
        if reading.undone_turn:
            return f"Taken back: what your message '{escape(shorten(reading.undone_turn))}' asked for."
        return "Nothing to take back yet."
    noted = [f"you like {escape(bot.label(i))}" for i in reading.liked_ids] + \
            [f"not {escape(bot.label(i))}" for i in reading.disliked_ids]
    # a series ("all the Harry Potter films") can be a dozen titles: name a few
    if len(noted) > NOTED_MAX:
        noted = noted[:NOTED_MAX - 1] + [f"{noted[NOTED_MAX - 1]} and {len(noted) - NOTED_MAX} more (see the summary)"]
    if reading.act == "correction":
        noted = [f"you meant {escape(bot.label(i))}" for i in reading.liked_ids] + \
                [f"not liked: {escape(bot.label(i))}" for i in reading.undone_ids[:NOTED_MAX]]
    kids = reading.audience == "kids"  # "for kids" says it once, not also as the Children genre
    asked = [bot.genre_names.get(g, g) for g in reading.wanted_genres if not (kids and canonical(g) == "children")] + \
            [f"about {t}" for t in reading.topics] + \
            [f"no {g}" for g in reading.banned_genres] + \
            ([describe_filters(reading.facet_filters, bot.catalog)] if reading.facet_filters else []) + \
            ([reading.years.describe()] if reading.years is not None else []) + \
            ([f"for {reading.audience}"] if reading.audience else [])
    if not noted and not asked:
        return ""
    return "Noted: " + "; ".join(noted + [escape(a) for a in asked]) + ". Say 'undo' to take it back."


def shorten(text: str, limit: int = 60) -> str:
    """A message quoted back: whole up to `limit` characters, else cut at a word with '...'."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "..."


def describe_filters(filters, catalog) -> str:
    """'directed by Christopher Nolan, without Adam Sandler, with runtime at most 100 min'."""
    units = {**DEFAULT_UNITS, **dict(catalog.units)}
    parts = []
    for f in filters:
        if f.kind == "people":
            names = " or ".join(escape(v) for v in f.values)
            how = ROLE_WORDS.get(f.name, "with")
            parts.append(f"without {names}" if f.negate else f"{how} {names}")
        elif f.kind == "cat":
            values = " or ".join(escape(v) for v in f.values)
            label = CATEGORY_WORDS.get(f.name, f"{f.name}:")
            parts.append(f"not {label} {values}" if f.negate else f"{label} {values}")
        else:
            unit = units.get(f.name, "")
            if f.low is not None and f.high is not None:
                limit = f"between {format_number(f.low)} and {format_number(f.high, unit)}"
            elif f.high is not None:
                limit = f"at most {format_number(f.high, unit)}"
            else:
                limit = f"at least {format_number(f.low, unit)}"
            what = limit if unit == f.name else f"{f.name} {limit}"  # "at most 300 pages", "runtime at most 90 min"
            parts.append(f"{'not ' if f.negate else ''}with {what} (where known)")
    return ", ".join(parts)
