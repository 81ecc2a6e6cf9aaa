"""How the chat shows itself: the opening greeting, each pick as a card, and each reply
as the conversation keeps it.

Plain strings from records, so they can be tested without a browser: the greeting and its
example requests come from the catalog (its kind of item, genres, years, a well-known
title), never from words written for movies; a card shows rank, title, year, the item's
facets (people, numbers with units, categories), genres, the start of its description and the reason; a reply in the
chat history keeps its list compactly (rank, title, year and reason on one line), so an
earlier list stays readable after the cards have moved on. Every catalog string is
escaped here (HTML in cards, HTML and Markdown in the chat). Knows nothing of gradio,
sessions or scores beyond the rank.
"""

from __future__ import annotations

import html
from typing import Mapping, Sequence

from bot.conversation.render import escape
from retrieval.facets import facet_line
from retrieval.records import Catalog, Item

SEP = " · "
ABOUT_WORDS = 30  # words of an item's description on its card


def shorten_words(text: str, n: int) -> str:
    """The first n words of `text`, "..." where cut."""
    words = text.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


def card_html(item: Item, rank: int, reason: str, units: Mapping[str, str] | None = None) -> str:
    """One pick as an HTML fragment (the UI adds the 👍 / 👎 buttons beside it); `units`
    are the catalog's (Catalog.units). Classes: pick-head, pick-rank, pick-title, pick-year,
    pick-facets, pick-genres, pick-about (the description), pick-reason; a line the item has nothing for is left out."""
    e = html.escape
    head = (f'<span class="pick-rank">{int(rank)}.</span> <span class="pick-title">{e(item.display_title())}</span>'
            + (f' <span class="pick-year">({item.year})</span>' if item.year else ""))
    lines = [f'<div class="pick-head">{head}</div>']
    facets = facet_line(item.facets, units)
    if facets:
        lines.append(f'<div class="pick-facets">{e(facets)}</div>')
    if item.genres:
        lines.append(f'<div class="pick-genres">{e(SEP.join(item.genres))}</div>')
    about = shorten_words(item.fields.get("description", ""), ABOUT_WORDS)
    if about:
        lines.append(f'<div class="pick-about">{e(about)}</div>')
    if reason:
        lines.append(f'<div class="pick-reason">{e(reason)}</div>')
    return "\n".join(lines)


def greeting(catalog: Catalog, examples: tuple[str, ...]) -> str:
    """The first assistant message (Markdown): what to type, with the example requests."""
    kind = catalog.kind
    lines = [f"Hi! What would you like to {kind.verb}? Describe it in your own words, over as many "
             f"messages as you like: name {kind.plural} you loved or hated, say \"more like #2\" or "
             f"\"show me more\". Each reply lists {kind.plural} with the reason they were picked; "
             "👍 or 👎 on a pick updates the list at once."]
    if examples:
        lines.append("For example:")
        lines += [f"- *{escape(x)}*" for x in examples]
    return "\n".join(lines)


def reply_lead(reply: str, first_rank: int | None) -> str:
    """The reply without its numbered list (the cards show the picks in full; the chat
    keeps them compactly, reply_in_chat): the lines before the one that starts with the
    first pick's rank ("1. "). The whole reply when
    there are no picks or no such line (a reply worded some other way is never cut)."""
    if first_rank is None:
        return reply
    lines = reply.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f"{first_rank}. "):
            return "\n".join(lines[:i]).rstrip() or reply
    return reply


def chat_list(picks: Sequence[tuple[int, Item, str]]) -> str:
    """A list as the chat history keeps it (Markdown): one line per (rank, item, reason),
    "2. **Heat (1995)** — _a reason_", catalog text escaped as the bot's own replies escape it."""
    return "\n".join(f"{int(rank)}. **{escape(item.display_label())}**" + (f" — _{escape(reason)}_" if reason else "")
                     for rank, item, reason in picks)


def reply_in_chat(reply: str, picks: Sequence[tuple[int, Item, str]]) -> str:
    """A reply as the chat history keeps it: its lead (reply_lead), then its list compactly
    (chat_list) in place of the full one the cards show. The whole reply when there are no
    picks or its list cannot be found (it is never cut, and its list never shown twice)."""
    if not picks:
        return reply
    lead = reply_lead(reply, picks[0][0])
    if lead == reply:
        return reply
    return f"{lead}\n{chat_list(picks)}"
