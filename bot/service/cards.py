"""How the chat shows itself: the opening greeting and each pick as a card.

Plain strings from records, so they can be tested without a browser: the greeting and its
example requests come from the catalog (its kind of item, genres, years, a well-known
title), never from words written for movies; a card shows rank, title, year, the item's
facets (people, numbers with units, categories), genres and the reason. Every catalog
string is HTML-escaped here. Knows nothing of gradio, sessions or scores beyond the rank.
"""

from __future__ import annotations

import html
from typing import Mapping

from bot.conversation.render import escape
from retrieval.facets import facet_line
from retrieval.records import Catalog, Item

SEP = " · "


def card_html(item: Item, rank: int, reason: str, units: Mapping[str, str] | None = None) -> str:
    """One pick as an HTML fragment (the UI adds the 👍 / 👎 buttons beside it); `units`
    are the catalog's (Catalog.units). Classes: pick-head, pick-rank, pick-title, pick-year,
    pick-facets, pick-genres, pick-reason; a line the item has nothing for is left out."""
    e = html.escape
    head = (f'<span class="pick-rank">{int(rank)}.</span> <span class="pick-title">{e(item.display_title())}</span>'
            + (f' <span class="pick-year">({item.year})</span>' if item.year else ""))
    lines = [f'<div class="pick-head">{head}</div>']
    facets = facet_line(item.facets, units)
    if facets:
        lines.append(f'<div class="pick-facets">{e(facets)}</div>')
    if item.genres:
        lines.append(f'<div class="pick-genres">{e(SEP.join(item.genres))}</div>')
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
    """The reply without its numbered list, since the cards show the picks: the lines
    before the one that starts with the first pick's rank ("1. "). The whole reply when
    there are no picks or no such line (a reply worded some other way is never cut)."""
    if first_rank is None:
        return reply
    lines = reply.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f"{first_rank}. "):
            return "\n".join(lines[:i]).rstrip() or reply
    return reply
