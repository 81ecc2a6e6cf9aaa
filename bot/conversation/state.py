"""Conversation state of one chat: every turn, what was liked, ruled out and shown.

Frozen: each turn returns a new Session, so a failed turn never half-updates state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.conversation.records import Reading, Span, Years
from retrieval.dialogue import Utterance
from retrieval.facets import TOPIC_FACET
from retrieval.records import FacetFilter


def _add(seq: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(seq + new))


def _drop(seq: tuple[str, ...], gone: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(x for x in seq if x not in set(gone))


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str | None = None  # a known user of the catalog's interaction data, or None
    turns: tuple[str, ...] = ()  # raw user messages, oldest first
    readings: tuple[Reading, ...] = ()  # one per turn
    liked_ids: tuple[str, ...] = ()
    disliked_ids: tuple[str, ...] = ()
    excluded_ids: tuple[str, ...] = ()  # near-duplicates of disliked items
    banned_genres: tuple[str, ...] = ()  # lower-case genres ruled out (editable)
    banned_words: tuple[str, ...] = ()  # words ruled out of titles ("no aliens": not "Aliens")
    years: Years | None = None  # release years asked for; a later year phrase replaces it
    shown_ids: tuple[str, ...] = ()  # every item listed so far: never repeated
    last_ids: tuple[str, ...] = ()  # the latest list, in rank order
    # The conversation as turns (the person's messages with the items they named, the
    # bot's replies with the items they named): what a context-mode pipeline reads.
    transcript: tuple[Utterance, ...] = ()
    facet_filters: tuple[FacetFilter, ...] = ()  # people, numbers, categories in force
    audience: str = ""  # who the picks are for ("kids", "adults"), kept until the person changes it

    def request_start(self) -> int:
        """Index of the turn that opened the current request ("now something funny"), 0 when
        none did: the genres, topics and cues in force are those said since."""
        return max((i for i, r in enumerate(self.readings) if r.switch), default=0)

    def wanted_genres(self) -> tuple[str, ...]:
        """Genres the current request asks for: those of its turns, and the children's genre
        for a kids' audience (it holds until changed: "for my kids, 6 and 9", then "something
        funnier"), less the ones ruled out since."""
        kids = ("children",) if self.audience == "kids" else ()
        wanted = [g for r in self.readings[self.request_start():] for g in r.wanted_genres] + list(kids)
        return tuple(dict.fromkeys(g for g in wanted if g not in self.banned_genres))

    def wanted_cues(self) -> dict[str, tuple[str, ...]]:
        """Wanted genre -> the user's words that asked for it, over the turns of the current
        request (since the latest that opened a new one, as `wanted_topics`)."""
        cues: dict[str, tuple[str, ...]] = {}
        banned = set(self.banned_genres)
        for r in self.readings[self.request_start():]:
            for g, words in r.cues.items():
                if g not in banned:
                    cues[g] = tuple(dict.fromkeys(cues.get(g, ()) + words))
        return cues

    def wanted_topics(self) -> tuple[str, ...]:
        """Topics the current request asks for ("a heist movie"): those of the turns since the
        latest one that opened a new request, less those taken back or ruled out since."""
        banned = {v for f in self.facet_filters if f.kind == "cat" and f.name == TOPIC_FACET and f.negate
                  for v in f.values}
        wanted: list[str] = []
        for r in self.readings[self.request_start():]:
            gone = {v.lower() for v in r.undone_values}
            wanted = [t for t in wanted if t not in gone] + list(r.topics)
        return tuple(dict.fromkeys(t for t in wanted if t not in banned))

    def with_turn(self, message: str, reading: Reading) -> "Session":
        """Add a turn: what it takes back goes first ("I didn't say I liked X", a
        correction's misread title), then its likes/dislikes override earlier ones, a genre
        asked for again is no longer ruled out, its years (if any) replace earlier ones
        ("any year" lifts them) and its audience the earlier one (a new request that does
        not restate it leaves it behind: the reader restates it where it still holds)."""
        gone = {v.lower() for v in reading.undone_values}
        banned = _add(_drop(tuple(g for g in self.banned_genres if g not in gone), reading.wanted_genres),
                      reading.banned_genres)
        kept = tuple(f for f in self.facet_filters if not gone & {v.lower() for v in f.values})
        years = self.years if reading.years is None else (None if reading.years.any else reading.years)
        liked, disliked = _drop(self.liked_ids, reading.undone_ids), _drop(self.disliked_ids, reading.undone_ids)
        return replace(
            self, turns=self.turns + (message,), readings=self.readings + (reading,),
            liked_ids=_add(_drop(liked, reading.disliked_ids), reading.liked_ids),
            disliked_ids=_add(_drop(disliked, reading.liked_ids), reading.disliked_ids),
            audience=reading.audience or ("" if reading.switch else self.audience),
            excluded_ids=_add(self.excluded_ids, reading.seen_ids),
            banned_genres=banned, years=years, banned_words=_add(self.banned_words, reading.banned_words),
            transcript=self.transcript + (Utterance(True, message, reading.mentioned_ids()),),
            facet_filters=merge_filters(kept, reading.facet_filters, reading.switch),
        )

    def with_feedback(self, liked: tuple[str, ...] = (), disliked: tuple[str, ...] = ()) -> "Session":
        return replace(self, liked_ids=_add(_drop(self.liked_ids, disliked), liked),
                       disliked_ids=_add(_drop(self.disliked_ids, liked), disliked))

    def with_excluded(self, item_ids: tuple[str, ...]) -> "Session":
        return replace(self, excluded_ids=_add(self.excluded_ids, item_ids))

    def with_shown(self, item_ids: tuple[str, ...], reply: Utterance | None = None) -> "Session":
        """After a list: its items are never shown again; `reply` (the bot's turn as a
        recommender would say it) joins the transcript."""
        return replace(self, shown_ids=self.shown_ids + item_ids, last_ids=item_ids,
                       transcript=self.transcript + ((reply,) if reply is not None else ()))


def merge_filters(old: tuple[FacetFilter, ...], new: tuple[FacetFilter, ...], switch: bool) -> tuple[FacetFilter, ...]:
    """Filters after a turn: a new numeric or category limit replaces the earlier one on the
    same facet ("under 2 hours", then "under 90 minutes"); people and topics ruled out add
    up ("with Tom Hanks", then "and Meg Ryan"; "no vampires", then "no clowns"), the same
    value said again replaces its earlier filter; a turn that opens a new request drops the
    people asked for before (what was ruled out stays ruled out)."""
    adding = {(f.kind, f.name) for f in old + new if f.kind == "people" or (f.kind, f.name) == ("cat", TOPIC_FACET)}
    replaced = {(f.kind, f.name) for f in new if (f.kind, f.name) not in adding}
    kept = tuple(f for f in old if (f.kind, f.name) not in replaced
                 and not (switch and f.kind == "people" and not f.negate)
                 and not ((f.kind, f.name) in adding and any(g.values == f.values for g in new)))
    return tuple(dict.fromkeys(kept + new))


# --- JSON form (the durable store's snapshot; no pickle) ------------------------------
STATE_FORMAT = 3  # bump when a field changes meaning; old snapshots then fail loudly
READABLE_FORMATS = (2, 3)  # 2: before acts, spans and the audience (read with their defaults)


def _years_json(y: Years | None) -> dict | None:
    return None if y is None else {"first": y.first, "last": y.last}


def _years(d: dict | None) -> Years | None:
    return None if d is None else Years(d["first"], d["last"])


def _filter_json(f: FacetFilter) -> dict:
    return {"kind": f.kind, "name": f.name, "values": list(f.values), "low": f.low, "high": f.high, "negate": f.negate}


def _filter(d: dict) -> FacetFilter:
    return FacetFilter(d["kind"], d["name"], tuple(d["values"]), d["low"], d["high"], d["negate"])


def _reading_json(r: Reading) -> dict:
    return {"unused": list(r.unused), "facet_filters": [_filter_json(f) for f in r.facet_filters],
            "people": [list(p) for p in r.people], "unusable": list(r.unusable), "seen_ids": list(r.seen_ids),
            "asked_ids": list(r.asked_ids),
            "text": r.text, "wanted_genres": list(r.wanted_genres), "banned_genres": list(r.banned_genres),
            "cues": {g: list(w) for g, w in r.cues.items()}, "liked_ids": list(r.liked_ids),
            "disliked_ids": list(r.disliked_ids), "paging": r.paging, "years": _years_json(r.years),
            "relative_years": r.relative_years, "banned_words": list(r.banned_words), "switch": r.switch,
            "act": r.act, "spans": [[s.kind, s.start, s.end, s.text, s.polarity, s.value] for s in r.spans],
            "undone_ids": list(r.undone_ids), "undone_turn": r.undone_turn, "undone_values": list(r.undone_values),
            "accepted_ids": list(r.accepted_ids),
            "audience": r.audience,
            "language": r.language, "topics": list(r.topics), "asked_facet": r.asked_facet}


def _reading(d: dict) -> Reading:
    return Reading(
        text=d["text"], wanted_genres=tuple(d["wanted_genres"]), banned_genres=tuple(d["banned_genres"]),
        cues={g: tuple(w) for g, w in d["cues"].items()}, liked_ids=tuple(d["liked_ids"]),
        disliked_ids=tuple(d["disliked_ids"]), paging=d["paging"], years=_years(d["years"]),
        relative_years=d["relative_years"], banned_words=tuple(d["banned_words"]), switch=d["switch"],
        unused=tuple(d["unused"]), facet_filters=tuple(_filter(f) for f in d["facet_filters"]),
        people=tuple(tuple(p) for p in d["people"]), unusable=tuple(d["unusable"]), seen_ids=tuple(d["seen_ids"]),
        asked_ids=tuple(d["asked_ids"]), act=d.get("act", "request"),
        spans=tuple(Span(*s) for s in d.get("spans", ())), undone_ids=tuple(d.get("undone_ids", ())),
        undone_turn=d.get("undone_turn", ""), undone_values=tuple(d.get("undone_values", ())),
        accepted_ids=tuple(d.get("accepted_ids", ())), audience=d.get("audience", ""), language=d.get("language", ""),
        topics=tuple(d.get("topics", ())), asked_facet=d.get("asked_facet", ""))


_ID_TUPLES = ("turns", "liked_ids", "disliked_ids", "excluded_ids", "banned_genres", "banned_words",
              "shown_ids", "last_ids")


def session_to_json(s: Session) -> dict:
    """Every field of `s` as JSON values; `session_from_json` gives back an equal Session."""
    return {"format": STATE_FORMAT, "session_id": s.session_id, "user_id": s.user_id,
            "readings": [_reading_json(r) for r in s.readings], "years": _years_json(s.years),
            "transcript": [{"seeker": t.seeker, "text": t.text, "item_ids": list(t.item_ids)} for t in s.transcript],
            "facet_filters": [_filter_json(f) for f in s.facet_filters], "audience": s.audience,
            **{name: list(getattr(s, name)) for name in _ID_TUPLES}}


def session_from_json(d: dict) -> Session:
    """The Session a `session_to_json` dict describes; ValueError if it is of another format."""
    if not isinstance(d, dict) or d.get("format") not in READABLE_FORMATS:
        raise ValueError(f"session state of format {d.get('format') if isinstance(d, dict) else None!r}, "
                         f"this code reads formats {READABLE_FORMATS}")
    return Session(session_id=d["session_id"], user_id=d["user_id"],
                   readings=tuple(_reading(r) for r in d["readings"]), years=_years(d["years"]),
                   transcript=tuple(Utterance(t["seeker"], t["text"], tuple(t["item_ids"])) for t in d["transcript"]),
                   facet_filters=tuple(_filter(f) for f in d["facet_filters"]), audience=d.get("audience", ""),
                   **{name: tuple(d[name]) for name in _ID_TUPLES})
