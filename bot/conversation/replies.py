"""Replies without a list: small talk, a question about one item (answered from its
facets), a question about something else, another language, a dislike with nothing asked
for yet. `reply_without_list` returns None for a turn that asks for picks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation.intents import COURTESY, ItemQuestion, asks_for_picks, is_question, item_question, small_talk
from bot.conversation.render import NOTED_MAX, escape
from bot.conversation.state import Session
from bot.conversation.understand import has_content
from retrieval.facets import DEFAULT_UNITS, LENGTH_FACETS, facet_line, format_number

if TYPE_CHECKING:
    from bot.conversation.chat import Bot

MAX_NAMES = 4  # people named in an answer ("stars A, B, C, D and others")


def reply_without_list(bot: "Bot", session: Session, before: Session) -> str | None:
    """The reply to a turn that asks for no list (small talk, a question about an
    item or about something else, another language), or None for a request."""
    message, reading = session.turns[-1], session.readings[-1]
    examples = "; ".join(f"'{e}'" for e in bot.examples())
    if reading.act == "unread":
        return ("That message is more than I can read in one go. Could you tell me in a sentence or two what "
                f"you would like to {bot.kind.verb}? For example: {examples}.")
    if reading.language and not (reading.liked_ids or reading.people):
        return (f"I read English only (this looks like {reading.language}). Tell me in English what you would like "
                f"to {bot.kind.verb}, for example: {examples}.")
    if reading.asked_ids:
        # what the reader found it asks ("the second one looks good. who's in it?": the cast)
        question = ItemQuestion(reading.asked_facet, "") if reading.asked_facet else item_question(message)
        return answer(bot, question, reading.asked_ids[0])
    if reading.act == "accept":
        picked = ", ".join(escape(bot.label(i)) for i in reading.accepted_ids[:NOTED_MAX])
        if picked:
            return f"Great choice: enjoy {picked}! Come back any time, or tell me what to change for more picks."
        if any(s.kind == "list_ref" and s.value == "?" for s in reading.spans):
            return ("Glad one of them caught your eye! Which one is it? Tell me its number or title and I'll note "
                    "it, or tell me what to change for more picks.")
        return "You're welcome! Say 'show me more' for more picks, or tell me what to change."
    if reading.act == "goodbye":
        return "Bye, enjoy! Come back any time."
    if reading.act in ("undo", "correction") and not wants_something(session):
        taken = ", ".join(escape(bot.label(i)) for i in reading.undone_ids[:NOTED_MAX])
        said = f"what I noted about {taken}" if taken else "that"
        return f"OK, I've taken back {said}. What would you like instead? For example: {examples}."
    if reading.disliked_ids and not wants_something(session):
        # only a dislike so far: nothing to rank by but the disliked item's own words
        names = ", ".join(escape(bot.label(i)) for i in reading.disliked_ids[:NOTED_MAX])
        return f"Noted: not {names}. What would you like instead? For example: {examples}."
    talk = small_talk(message)
    courtesy = talk in ("thanks", "bye") and not has_content(message, bot.kind.words() | COURTESY)
    question_only = (is_question(message) and not reading.liked_ids and not reading.wanted_genres
                     and not reading.facet_filters and not reading.years
                     and not asks_for_picks(message, bot.kind.words(), bot.kind.verb))
    if reading.act in ("undo", "correction") or (reading.usable() and not courtesy and not question_only):
        return None
    has_request = any(r.usable() for r in before.readings) or bool(session.liked_ids or session.user_id)
    if talk is None and not reading.usable() and has_request and (
            asks_for_picks(message, bot.kind.words(), bot.kind.verb) or reading.unused or reading.unusable):
        # "anything else to watch tonight?" after a request or some likes; "not world war 2"
        # after one: the list again, with a word on what could not be used
        return None
    notes = [f"I can't rule out '{escape(u)}': it is not a genre, person or title I know." for u in reading.unused]
    notes += [f"I can't filter by {u} yet." for u in reading.unusable]
    if talk == "thanks" and has_request:
        return "You're welcome! Say 'show me more' for more picks, or tell me what to change."
    if talk == "bye":
        return "Bye, enjoy! Come back any time."
    if talk in ("greeting", "help", "thanks") or not reading.usable():
        hello = "Hi! " if talk == "greeting" else ""
        return " ".join(notes + [f"{hello}Tell me what you would like to {bot.kind.verb} and I'll suggest a few "
                                 f"{bot.kind.plural}, with a reason for each. For example: {examples}."])
    return (f"I can only help with finding {bot.kind.plural}, sorry. Try for example: {examples}.")

def answer(bot: "Bot", question: ItemQuestion | None, item_id: str) -> str:
    """A question about one item, answered from its facets, or said not to be known."""
    item = bot.catalog.items[bot.catalog.row(item_id)]
    label = escape(item.display_label())
    facets = item.facets
    facet = question.facet if question is not None else "about"
    if facet == "about":  # "is it kid friendly?", "what's that one about?": what the catalog holds
        genres = ", ".join(item.genres)
        known = facet_line(facets, bot.catalog.units)
        facts = " · ".join(escape(x) for x in (genres, known) if x)
        about = item.fields.get("description", "")  # what it is about, in the catalog's own words
        if about:
            return f"{label}: {facts}. {escape(about)}" if facts else f"{label}: {escape(about)}"
        return (f"{label}: {facts}. That is all the catalog tells me about it." if facts
                else f"I don't know more about {label} than its title: the catalog doesn't say.")
    if facet in ("director", "writer", "cast"):
        role = "author" if facet == "writer" and facets.names("author") else facet
        names = facets.names(role)
        if names:
            verb = {"director": "was directed by", "writer": "was written by", "cast": "stars",
                    "author": "was written by"}[role]
            shown = ", ".join(escape(n) for n in names[:MAX_NAMES])
            return f"{label} {verb} {shown}" + (" and others." if len(names) > MAX_NAMES else ".")
        what = {"director": "who directed", "writer": "who wrote", "cast": "who is in"}[facet]
        return f"I don't know {what} {label}: the catalog doesn't say."
    if facet == "length":
        name = next((n for n in LENGTH_FACETS if n in facets.numbers), None)
        if name is None:
            return f"I don't know how long {label} is: the catalog doesn't say."
        unit = {**DEFAULT_UNITS, **dict(bot.catalog.units)}.get(name, "")
        return f"{label} runs {format_number(facets.numbers[name], unit)}."
    if facet == "rating":
        rating = next((v for c in ("mpaa", "certification") for v in facets.categories.get(c, ())), None)
        return f"{label} is rated {escape(rating)}." if rating else f"I don't know how {label} is rated."
    return f"{label} came out in {item.year}." if item.year else f"I don't know when {label} came out."


def wants_something(session: Session) -> bool:
    """Whether the session asks for anything (words, genres, likes, people, limits, a known
    user), not only for what to avoid."""
    return bool(session.liked_ids or session.user_id or session.years is not None
                or any(f for f in session.facet_filters if not f.negate)
                or any(r.text or r.wanted_genres or r.relative_years for r in session.readings))
