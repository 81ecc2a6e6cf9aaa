"""The chat logic as plain functions: `Bot.respond(message, session) -> Answer`.

No UI here: Gradio and the HTTP API are thin layers over `Bot`. A turn is read with rules
(bot/conversation/understand.py, bot/conversation/linking.py): genres asked for or ruled out, titles named ("I loved
Heat", "not Titanic"), references to the last list ("more like #2", "2 and 4 were good"),
paging ("show me more") and release years ("after 2000", "80s", "something older").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bot.conversation.duplicates import NearDuplicates
from bot.conversation.examples import example_requests
from bot.conversation.justify import ReasonWriter, reason
from bot.conversation.reading import MAX_MESSAGE_CHARS, Reader
from bot.conversation.records import Reading
from bot.conversation.render import escape, left_out, render
from bot.conversation.replies import reply_without_list
from bot.conversation.state import Session
from fusion.recommender import Recommendation, Recommender
from retrieval.dialogue import Utterance
from retrieval.facets import ROLE_PHRASES
from retrieval.records import Query

SPOKEN = 3  # items of a list that the bot's turn in the transcript names, as a person would



class BadInput(ValueError):
    """A message or setting the bot cannot act on; the text is shown to the person."""


@dataclass(frozen=True)
class BotConfig:
    k: int = 10  # items per reply
    # Weight of a turn = the product, over the turns after it, of `switch_decay` for a turn
    # that opens a new request ("now something darker", "how about ...") and
    # `recency_decay` for any other. Real conversations state the request early and then
    # chat ("whos in it?", "thanks!"), so plain turns do not fade (benchmarks/conversations.py:
    # Recall@50 .138 with 0.3, .163 with 1.0); a new request still takes over.
    recency_decay: float = 1.0
    switch_decay: float = 0.3
    alpha: float | None = None  # None: the recommender's default
    # A disliked item takes along items whose text embedding is this close (sequels,
    # remakes): cosine of MiniLM item texts; Toy Story vs Toy Story 2 is ~0.95.
    near_duplicate: float = 0.92
    # Read people, numeric limits and categories (bot/conversation/facetread.py). Off: the bot of before
    # facets, kept for the replay's ablation row (benchmarks/conversations.py).
    read_facets: bool = True


@dataclass(frozen=True)
class RankedItem:
    recommendation: Recommendation
    reason: str


@dataclass(frozen=True)
class Answer:
    reply: str  # Markdown shown in the chat
    session: Session
    items: tuple[RankedItem, ...]


class Bot:
    def __init__(self, recommender: Recommender, config: BotConfig = BotConfig(),
                 writer: ReasonWriter | None = None) -> None:
        self.recommender = recommender
        self.writer = writer  # None: the plain template (bot/conversation/justify.py)
        self.catalog = recommender.catalog
        self.config = config
        self.reader = Reader(self.catalog, title_prior(recommender), config.read_facets)
        self.kind = self.catalog.kind
        retriever = recommender.retriever
        self.duplicates = NearDuplicates(self.catalog, retriever.item_vectors, retriever.index, self.reader.linker.stems)
        # indexes the first dislike, ban or year turn would otherwise build (seconds at 1M items)
        self.duplicates.warm()
        recommender.filters.warm()
        self._examples: tuple[str, ...] | None = None

    def with_recommender(self, recommender: Recommender) -> "Bot":
        """This bot over another pipeline of the same catalog and text index (e.g. its CF
        refitted): the catalog's readers and indexes (facets, filters, near duplicates)
        are shared instead of rebuilt (about a second on MovieLens); the title linker is
        rebuilt only when the CF model's counts (its tie-breaker) differ. Another catalog
        or retriever: a new Bot, built from scratch."""
        if recommender.retriever is not self.recommender.retriever:
            return Bot(recommender, self.config, self.writer)
        import copy

        other = copy.copy(self)
        other.recommender = recommender
        if "filters" not in recommender.__dict__:  # functools.cached_property: catalog-only indexes
            recommender.__dict__["filters"] = self.recommender.filters
        old, new = title_prior(self.recommender), title_prior(recommender)
        if (old is None) != (new is None) or (new is not None and not np.array_equal(old, new)):
            other.reader = self.reader.with_prior(new)
        other._examples = None
        return other

    def new_session(self, session_id: str, user_id: str | None = None) -> Session:
        if user_id is not None and not self.recommender.cf.knows_user(user_id):
            raise BadInput(f"unknown user id {user_id!r}: leave it empty to start as a new visitor")
        return Session(session_id=session_id, user_id=user_id)

    # --- the reader's parts, for callers that read the catalog's words -----------------
    @property
    def linker(self):
        return self.reader.linker

    @property
    def vocabulary(self):
        return self.reader.vocabulary

    @property
    def genre_names(self) -> dict[str, str]:
        return self.reader.genre_names

    @property
    def catalog_genres(self) -> frozenset[str]:
        return frozenset(self.reader.genre_names)

    def read(self, message: str, session: Session) -> Reading:
        """The reading of `message` in `session` (bot/conversation/reading.py)."""
        return self.reader.read(message, session)

    def near_duplicates(self, item_ids: tuple[str, ...]) -> tuple[str, ...]:
        """Items too close to a disliked one: same title stem (sequels), same series or
        near-identical text (bot/conversation/duplicates.py: indexes built on the first dislike)."""
        return self.duplicates.of(item_ids, self.config.near_duplicate)

    # --- one turn ---------------------------------------------------------------------
    def query(self, session: Session, alpha: float | None = None) -> Query:
        texts, weights, anchors, anchor_weights = [], [], [], []
        fade = [self.config.switch_decay if r.switch else self.config.recency_decay for r in session.readings]
        current = session.wanted_topics()
        for i, r in enumerate(session.readings):
            w = float(np.prod(fade[i + 1:]))
            # Genres the words asked for are appended in the catalog's own item-text form
            # ("Genres: Comedy, Children."), which the encoder matches far better than "funny".
            genres = ", ".join(self.genre_names[g] for g in r.wanted_genres if g not in session.banned_genres)
            # ... and so are the topics ("Topics: heist.", as item texts list them)
            topics = ", ".join(t for t in r.topics if t in current)
            if r.text:
                texts.append(r.text + (f". Genres: {genres}." if genres else "") + (f" Topics: {topics}." if topics else ""))
                weights.append(w)
            for name, role in r.people:  # in the item texts' own words: "Directed by Christopher Nolan."
                texts.append(f"{ROLE_PHRASES.get(role, 'With')} {name}.")
                weights.append(w)
            for item_id in r.liked_ids:  # a named or pointed-at item anchors the request
                # by its vector in the index: nothing to encode (a series of 8 films cost
                # 57 ms a turn as texts), and on ReDial dev replays it ranked what people
                # were recommended higher than a title-and-genres text did
                anchors.append(item_id)
                anchor_weights.append(w)
        if not texts and not anchors:  # e.g. the first message was "show me more": use what was said
            texts, weights = [t for t in session.turns if t.strip()][-1:], [1.0]
        return Query(
            texts=tuple(texts), text_weights=tuple(weights),
            anchor_ids=tuple(anchors), anchor_weights=tuple(anchor_weights),
            liked_ids=session.liked_ids, disliked_ids=session.disliked_ids,
            exclude_ids=session.shown_ids + session.excluded_ids,
            banned_terms=session.banned_genres + session.banned_words,
            years=None if session.years is None else (session.years.first, session.years.last),
            user_id=session.user_id, k=self.config.k,
            alpha=alpha if alpha is not None else self.config.alpha, context=session.transcript,
            wanted_genres=session.wanted_genres(), wanted_topics=current, facet_filters=session.facet_filters,
            audience=session.audience,
        )

    def respond(self, message: str, session: Session, alpha: float | None = None) -> Answer:
        """One turn, stage by stage: read the message, update the state, decide what to do
        (a reply without a list, or a list), rank, give reasons, reply."""
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise BadInput(f"alpha must be between 0 and 1, got {alpha}")
        listened = self.listen(message, session)  # read, then update
        reply = self.decide(listened, session)
        if reply is not None:
            return Answer(reply, listened, ())
        return self.recommend(listened, alpha)  # rank, reasons, reply

    def decide(self, session: Session, before: Session) -> str | None:
        """The policy: the reply to a turn that asks for no list (small talk, a question, a
        pick accepted, ...), or None for a list (bot/conversation/replies.py)."""
        return reply_without_list(self, session, before)

    def examples(self) -> tuple[str, ...]:
        """Three requests this catalog can answer, in its own words (bot/conversation/examples.py);
        computed once (a pass over the catalog's genres and people)."""
        if self._examples is None:
            prior = self.linker.prior
            self._examples = example_requests(self.catalog,
                                              int(np.argmax(prior)) if len(prior) and prior.max() > 0 else None)
        return self._examples

    def listen(self, message: str, session: Session) -> Session:
        """The session after one message, before any list (also how benchmarks/conversations.py
        replays a dialogue): the message read once, then the state updated with it."""
        if not isinstance(message, str) or not message.strip():
            raise BadInput(f"Tell me what you would like to {self.kind.verb}, e.g. '{self.examples()[0]}'.")
        message = message.strip()[:MAX_MESSAGE_CHARS]
        reading = self.read(message, session)
        return self.update(session, message, reading)

    def update(self, session: Session, message: str, reading: Reading) -> Session:
        """The state after a reading: the turn added, near-duplicates of what it disliked left
        out. A bare "undo" ("scratch that", "I never said that") first takes back the latest
        turn that was not itself an undo."""
        if reading.act == "undo" and not reading.undone_ids and not reading.undone_values:
            index = last_turn(session)
            if index is not None:
                reading = replace(reading, undone_turn=session.turns[index])
            session = self.without_turn(session, index)
        session = session.with_turn(message, reading)
        return session.with_excluded(self.near_duplicates(reading.disliked_ids))

    def without_turn(self, session: Session, index: int | None) -> Session:
        """The state as if turn `index` had taken nothing: every other turn's reading applied
        again in order (its text stays in the transcript, the lists shown stay shown, likes
        and dislikes given with the buttons stay)."""
        if index is None:
            return session
        gone = session.readings[index]
        fresh = Session(session.session_id, session.user_id)
        for i, (message, reading) in enumerate(zip(session.turns, session.readings)):
            if i == index:
                reading = Reading(text="", wanted_genres=(), banned_genres=(), cues={}, act="undo")
            fresh = fresh.with_turn(message, reading).with_excluded(self.near_duplicates(reading.disliked_ids))
        said = {i for r in session.readings for i in r.liked_ids + r.disliked_ids}
        buttons = ([i for i in session.liked_ids if i not in said], [i for i in session.disliked_ids if i not in said])
        fresh = fresh.with_feedback(tuple(buttons[0]), tuple(buttons[1]))
        return replace(fresh, shown_ids=session.shown_ids, last_ids=session.last_ids, transcript=session.transcript,
                       excluded_ids=tuple(i for i in fresh.excluded_ids if i not in gone.seen_ids))

    def recommend(self, session: Session, alpha: float | None = None) -> Answer:
        """A fresh list for the session as it stands (after a turn or a feedback edit).
        When fewer than k items fit and a numeric limit ("under 2 hours") is among the
        filters, the list is filled with the best items that lack that number (each reason
        says it cannot promise the limit), after every item known to fit: the catalog's
        numbers may cover only part of it (MovieLens runtimes stop in 2005)."""
        recs = self.rank(session, alpha)
        items = self.reasons(recs, session)
        session = session.with_shown(tuple(r.item.item_id for r in recs), spoken_turn(recs))
        return Answer(render(items, session, self), session, items)

    def rank(self, session: Session, alpha: float | None = None) -> list[Recommendation]:
        """The ranked list for the session's query (the pipeline, fusion/recommender.py),
        filled from items lacking a limit's number where too few known ones fit."""
        query = self.query(session, alpha)
        recs = self.recommender.recommend(query)
        widened = tuple(f.or_unknown() for f in query.facet_filters)
        if len(recs) < query.k and widened != query.facet_filters:
            shown = tuple(r.item.item_id for r in recs)
            more = self.recommender.recommend(replace(query, facet_filters=widened, k=query.k - len(recs),
                                                      exclude_ids=query.exclude_ids + shown))
            recs = list(recs) + [replace(r, rank=len(recs) + i + 1) for i, r in enumerate(more)]
        return list(recs)

    def reasons(self, recs: list[Recommendation], session: Session) -> tuple[RankedItem, ...]:
        """Each pick with its reason, drawn from the evidence that ranked it (bot/conversation/justify.py)."""
        topics = getattr(self.recommender, "terms", {}).get("topics")  # a near topic is named as the ranking judged it
        near = getattr(topics, "near_topics", None)
        return tuple(RankedItem(r, reason(r, session, self.writer, self.catalog, near)) for r in recs)

    # --- feedback and edits -----------------------------------------------------------
    def feedback(self, session: Session, liked: tuple[str, ...] = (), disliked: tuple[str, ...] = ()) -> Session:
        """Apply like/dislike buttons; they count from the next turn on."""
        for i in liked + disliked:
            if i not in self.catalog:
                raise BadInput(f"unknown item id {i!r}")
        session = session.with_feedback(liked, disliked)
        return session.with_excluded(self.near_duplicates(disliked))

    def edit(self, session: Session, liked: tuple[str, ...], disliked: tuple[str, ...],
             banned_genres: tuple[str, ...]) -> Session:
        """Replace what the bot took from the conversation (the person's own edit)."""
        for i in liked + disliked:
            if i not in self.catalog:
                raise BadInput(f"unknown item id {i!r}")
        unknown = [g for g in banned_genres if g.lower() not in self.catalog_genres]
        if unknown:
            raise BadInput(f"unknown genre(s) {unknown}; the catalog has {sorted(self.catalog_genres)}")
        return replace(session, liked_ids=tuple(liked), disliked_ids=tuple(disliked),
                       banned_genres=tuple(g.lower() for g in banned_genres), excluded_ids=())

    def label(self, item_id: str) -> str:
        return self.catalog.items[self.catalog.row(item_id)].display_label()

    def summary(self, session: Session) -> str:
        """What the bot took from the conversation so far, as Markdown."""
        def names(ids):
            return ", ".join(escape(self.label(i)) for i in ids) or "none"

        return (f"**Liked:** {names(session.liked_ids)}  \n**Disliked:** {names(session.disliked_ids)}  \n"
                f"**Left out:** {left_out(session) or 'none'}  \n"
                f"**Years:** {session.years.describe() if session.years else 'any'}"
                + (f"  \n**Known user:** {escape(session.user_id)}" if session.user_id else ""))


def title_prior(recommender: Recommender) -> np.ndarray | None:
    """How well known each item is, for the title linker (bot/conversation/linking.py: ties
    between equal titles, and whether a lower-case title is confident): the CF model's
    counts (ratings), and where the pipeline learnt from conversations, how often they
    named it. With both, each becomes a share (of the items counted at all, counted less
    than this one) and an item takes the larger: The Conjuring, rated 12 times in
    MovieLens but named 17 times in ReDial (more than 90% of the films named there), is
    as known as a film rated more than 90% of the rated ones.
    """
    counts = [np.asarray(c, np.float64) for c in (getattr(recommender.cf, "counts", None),
                                                   getattr(recommender.terms.get("mentions"), "counts", None))
              if c is not None]
    if len(counts) < 2:
        return counts[0] if counts else None
    return np.maximum(*(counted_share(c) for c in counts))


def counted_share(counts: np.ndarray) -> np.ndarray:
    """Per item, the share of the items counted at all that are counted less (0: never counted)."""
    counted = np.sort(counts[counts > 0])
    share = np.searchsorted(counted, counts, side="left") / max(len(counted), 1)
    return np.where(counts > 0, share + 1e-9, 0.0)  # counted once is more than never


def last_turn(session: Session) -> int | None:
    """Index of the latest turn that was not itself an undo (None: nothing to take back)."""
    return next((i for i in range(len(session.readings) - 1, -1, -1) if session.readings[i].act != "undo"), None)


def spoken_turn(recs: list[Recommendation]) -> Utterance | None:
    """The bot's reply as one recommender turn of the transcript: its top SPOKEN items,
    named the way conversations name them ("How about Heat (1995) or Ronin (1998)?")."""
    if not recs:
        return None
    named = [r.item for r in recs[:SPOKEN]]
    labels = [it.label() for it in named]
    text = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]
    return Utterance(False, f"How about {text}?", tuple(it.item_id for it in named))


def with_user(session: Session, user_id: str | None) -> Session:
    return replace(session, user_id=user_id)
