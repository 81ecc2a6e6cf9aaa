"""The chat logic as a plain function: `respond(message, session, bot) -> Turn`.

No UI here: Gradio and the HTTP API are thin layers over `Bot.respond`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

from bot.justify import reason
from bot.session import Session
from bot.understand import read_turn
from fusion.recommender import Recommendation, Recommender
from retrieval.records import Query

MAX_MESSAGE_CHARS = 2000  # longer messages are cut: descriptions, not documents


class BadInput(ValueError):
    """A message or setting the bot cannot act on; the text is shown to the person."""


@dataclass(frozen=True)
class BotConfig:
    k: int = 10  # items per reply
    # Weight of a turn = decay ** (turns after it). 0.3 lets a new request ("now something
    # darker") take over while older turns still steer (picked by hand on the demo dialogue).
    recency_decay: float = 0.3
    alpha: float | None = None  # None: the recommender's default


@dataclass(frozen=True)
class RankedItem:
    recommendation: Recommendation
    reason: str


@dataclass(frozen=True)
class Turn:
    reply: str  # Markdown shown in the chat
    session: Session
    items: tuple[RankedItem, ...]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~<>])")


def escape(text: str) -> str:
    """Catalog text shown as text: HTML-escaped and Markdown-inert."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


class Bot:
    def __init__(self, recommender: Recommender, config: BotConfig = BotConfig()) -> None:
        self.recommender = recommender
        self.catalog = recommender.catalog
        self.config = config
        # lower-case genre -> the catalog's spelling, for query expansion
        self.genre_names = {g.lower(): g for it in self.catalog.items for g in it.genres}
        self.catalog_genres = frozenset(self.genre_names)

    def new_session(self, session_id: str, user_id: str | None = None) -> Session:
        if user_id is not None and not self.recommender.cf.knows_user(user_id):
            raise BadInput(f"unknown user id {user_id!r}: leave it empty to start as a new visitor")
        return Session(session_id=session_id, user_id=user_id)

    def query(self, session: Session, alpha: float | None = None) -> Query:
        n = len(session.readings)
        texts, weights = [], []
        for i, r in enumerate(session.readings):
            # Genres the words asked for are appended in the catalog's own item-text form
            # ("Genres: Comedy, Children."), which the encoder matches far better than "funny".
            genres = ", ".join(self.genre_names[g] for g in r.wanted_genres)
            texts.append(f"{r.text}. Genres: {genres}." if genres else r.text)
            weights.append(self.config.recency_decay ** (n - 1 - i))
        return Query(
            texts=tuple(texts), text_weights=tuple(weights),
            liked_ids=session.liked_ids, disliked_ids=session.disliked_ids,
            exclude_ids=session.shown_ids, banned_terms=session.banned_genres(),
            user_id=session.user_id, k=self.config.k,
            alpha=alpha if alpha is not None else self.config.alpha,
        )

    def respond(self, message: str, session: Session, alpha: float | None = None) -> Turn:
        if not isinstance(message, str) or not message.strip():
            raise BadInput("Tell me what you would like to watch, e.g. 'a funny animated movie for kids'.")
        message = message.strip()[:MAX_MESSAGE_CHARS]
        session = session.with_turn(message, read_turn(message, self.catalog_genres))
        recs = self.recommender.recommend(self.query(session, alpha))
        items = tuple(RankedItem(r, reason(r, session)) for r in recs)
        session = session.with_shown(tuple(r.item.item_id for r in recs))
        return Turn(render(items, session), session, items)


def render(items: tuple[RankedItem, ...], session: Session) -> str:
    if not items:
        return "I found nothing new that fits everything you said. Try loosening a constraint."
    lines = []
    banned = session.banned_genres()
    if banned:
        lines.append("Leaving out: " + ", ".join(banned) + ".")
    lines.append(f"Here are {len(items)} picks:" if len(session.turns) == 1
                 else f"Here are {len(items)} new picks, taking all you said into account:")
    for it in items:
        item = it.recommendation.item
        genres = ", ".join(item.genres)
        lines.append(f"{it.recommendation.rank}. **{escape(item.label())}**"
                     + (f" · {escape(genres)}" if genres else "")
                     + f"  \n   _{escape(it.reason)}_")
    return "\n".join(lines)


def with_user(session: Session, user_id: str | None) -> Session:
    return replace(session, user_id=user_id)
