"""The records the reader hands to the rest of the conversation: a `Reading` of one
message (its act, the spans it found, and what they ask of the ranking), its `Span`s, and
the release `Years` a message may limit.

Acts, span kinds and polarities are the reading test set's (tests/data/reading/README.md):
benchmarks/reading.py scores the reader against it in these terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.records import FacetFilter

# What a message mainly does (one per message): the policy acts on it.
# "unread": the message cost more than the reading budget (bot/conversation/budget.py).
ACTS = ("request", "more", "like", "dislike", "seen", "correction", "undo", "accept", "goodbye", "question",
        "small_talk", "unread")
# What a span names.
KINDS = ("title", "person", "genre", "topic", "mood", "years", "limit", "audience", "list_ref")
# What the message says of it: wanted/liked, ruled out/disliked, seen, asked about, taken
# back, or taken (the pick the person settles on).
POLARITIES = ("+", "-", "seen", "asked", "undo", "accept")


@dataclass(frozen=True)
class Span:
    """One thing the message names, at message[start:end] (the message as read: stripped
    and cut to its length limit)."""

    kind: str  # one of KINDS
    start: int
    end: int
    text: str
    polarity: str  # one of POLARITIES
    value: str = ""  # item id, person's name, genre, "1990-1999", "runtime<=120", list position(s)


@dataclass(frozen=True)
class Years:
    """An inclusive range of release years; None = open on that side. `Years()` (both
    None) is "any year": it lifts an earlier limit."""

    first: int | None = None
    last: int | None = None

    def __post_init__(self) -> None:
        if self.first is not None and self.last is not None and self.first > self.last:
            raise ValueError(f"empty year range {self.first}-{self.last}")

    @property
    def any(self) -> bool:
        return self.first is None and self.last is None

    def contains(self, year: int | None) -> bool:
        """Items without a known year never fit a limit (nothing to check them by)."""
        if self.any:
            return True
        if year is None:
            return False
        return (self.first is None or year >= self.first) and (self.last is None or year <= self.last)

    def describe(self) -> str:
        if self.any:
            return "any year"
        if self.first is None:
            return f"{self.last} or earlier"
        if self.last is None:
            return f"{self.first} or later"
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class Reading:
    """One message, read once. `act` and `spans` say what it does and names; the fields
    below are what the state update and the ranking take from it."""


    text: str  # what the encoder reads: the message less negated and year phrases ("" = nothing)
    wanted_genres: tuple[str, ...]  # lower-case genre names asked for
    banned_genres: tuple[str, ...]  # lower-case genre names ruled out
    cues: dict[str, tuple[str, ...]]  # wanted genre -> the words of the message that named it
    liked_ids: tuple[str, ...] = ()  # items named or pointed at with approval (bot/conversation/linking.py)
    disliked_ids: tuple[str, ...] = ()
    paging: bool = False  # "show me more": no new request, just the next picks
    years: Years | None = None  # release years asked for (None: not mentioned this turn)
    relative_years: str = ""  # "older" / "newer" without a number: resolved by the bot
    banned_words: tuple[str, ...] = ()  # narrow cues ruled out ("no aliens"): left out of titles
    switch: bool = False  # opens a new request ("now something darker"): earlier turns fade
    unused: tuple[str, ...] = ()  # ruled-out phrases that name nothing the bot can filter by
    facet_filters: tuple[FacetFilter, ...] = ()  # people, numbers, categories (bot/conversation/facetread.py)
    people: tuple[tuple[str, str], ...] = ()  # (name, role or "") asked for
    unusable: tuple[str, ...] = ()  # kinds of limit asked for that the catalog cannot check
    seen_ids: tuple[str, ...] = ()  # named as seen, without a verdict: never listed, not liked
    asked_ids: tuple[str, ...] = ()  # asked about ("who directed Jaws?"): not liked
    asked_facet: str = ""  # what the question asks of it (bot/conversation/intents.py ITEM_QUESTIONS: "director", ...)
    act: str = "request"  # one of ACTS
    spans: tuple[Span, ...] = ()
    undone_ids: tuple[str, ...] = ()  # items whose earlier reading the turn takes back ("I didn't say I liked X")
    undone_turn: str = ""  # the earlier message a bare "undo" took back (set by the state update)
    undone_values: tuple[str, ...] = ()  # people and genres taken back ("forget the nolan thing")
    accepted_ids: tuple[str, ...] = ()  # the pick the person settles on ("X it is, thanks")
    audience: str = ""  # who it is for, kept until changed: "kids" | "adults" | "" (not said)
    language: str = ""  # the language of a message that is clearly not English ("" = English)
    topics: tuple[str, ...] = ()  # topics asked for, as the catalog spells them (bot/conversation/topics.py);
    # ruled-out ones are negated facet filters on the topic facet

    def mentioned_ids(self) -> tuple[str, ...]:
        """Every item the turn named, whatever it said about it (the transcript's mentions)."""
        return tuple(dict.fromkeys(self.liked_ids + self.disliked_ids + self.seen_ids + self.asked_ids))

    def usable(self) -> bool:
        """Whether the turn says anything the recommender can act on."""
        return bool(self.text or self.wanted_genres or self.banned_genres or self.topics or self.liked_ids
                    or self.disliked_ids
                    or self.seen_ids or self.paging or self.years is not None or self.relative_years
                    or self.banned_words or self.facet_filters)
