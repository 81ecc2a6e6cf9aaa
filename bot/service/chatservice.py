"""The chat as a service: `Bot` plus logging and study arms, shared by the UI and the API.

Every turn, feedback, rating and reset goes through here, so both front ends log the same
records (bot/service/logbook.py, written through bot/service/logqueue.py so logging never breaks a turn),
apply the same study arm (bot/service/study.py) and share one limit on turns computed at once
(bot/service/gate.py). Knows nothing of gradio or HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Mapping

from bot.conversation.chat import BadInput, Bot, Answer, with_user
from bot.service.gate import Busy, TurnGate
from bot.service.logbook import Logbook
from bot.service.logqueue import FAILURES as LOG_FAILURES
from bot.service.logqueue import SafeLog
from bot.conversation.state import Session
from bot.service.study import StudyConfig, StudyConfigError, assign_recorded, clean_participant_id
from retrieval.facets import DEFAULT_UNITS, TOPIC_FACET
from retrieval.records import Item


def facets_json(item: Item, units: Mapping[str, str]) -> dict:
    """What an item carries, as the cards show it: people by role, numbers with their unit,
    categories, topics (what it is about) and its description ("" when it has none)."""
    f = item.facets
    return {"people": {role: list(names) for role, names in f.people.items()},
            "numbers": {name: {"value": value, "unit": units.get(name, "")} for name, value in f.numbers.items()},
            "categories": {name: list(vs) for name, vs in f.categories.items() if name != TOPIC_FACET},
            "topics": list(f.categories.get(TOPIC_FACET, ())), "description": item.fields.get("description", "")}


def items_json(turn: Answer, units: Mapping[str, str] | None = None) -> list[dict]:
    """The API's item records: parts are the weighted contributions of text, CF and every
    weighted term, so score = sum(parts), unless `reranked` (the second stage's score);
    `facets` as facets_json gives them (`units`: the catalog's, over the defaults)."""
    units = {**DEFAULT_UNITS, **(units or {})}
    out = []
    for it in turn.items:
        r = it.recommendation
        parts = {"text": round(r.alpha * r.text, 6), "cf": round((1 - r.alpha) * r.cf, 6),
                 **{name: round(v, 6) for name, v in r.terms.items()}}
        out.append({
            "item_id": r.item.item_id, "title": r.item.title, "year": r.item.year,
            "genres": list(r.item.genres), "rank": r.rank, "score": round(r.score, 6),
            "parts": parts, "reranked": r.reranked, "reason": it.reason, "facets": facets_json(r.item, units),
        })
    return out


def probe(bot: Bot) -> str | None:
    """One real turn through `bot` (not logged): None when it listed items, else what went
    wrong. The request is the greeting's first example: one the catalog can answer by design."""
    try:
        turn = bot.respond(bot.examples()[0], bot.new_session("self-test"))
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None if turn.items else "the self-test turn returned no items"


@dataclass(frozen=True)
class Participation:
    """A session's place in a user study (None outside study mode)."""

    participant_id: str
    arm: str
    alpha: float | None


PARTICIPATION_CACHE = 10_000  # sessions whose study arm is kept in memory; the log has them all


class ChatService:
    def __init__(self, bot: Bot, logbook: Logbook | SafeLog | None = None, study: StudyConfig | None = None,
                 gate: TurnGate | None = None) -> None:
        self.bot = bot
        self.logbook = SafeLog(logbook) if isinstance(logbook, Logbook) else logbook
        self.study = study
        self.gate = gate or TurnGate()
        for arm in study.arms if study else ():
            if arm.strategy is not None:
                raise StudyConfigError(f"arm {arm.name!r}: per-arm fusion strategies are not supported "
                                       "yet; vary alpha instead")
        self.participation: OrderedDict[str, Participation] = OrderedDict()
        self._participation_lock = threading.Lock()
        self.ready = False  # True once `self_test` has run a real turn end to end
        self.self_test_error: str | None = None
        # which pipeline answers: "full", or "quick" while the full one builds (bot/service/upgrade.py)
        self.pipeline: dict = {"state": "full"}

    def self_test(self) -> bool:
        """One real turn through retrieval, CF and fusion (not logged) and a logbook write
        lock taken and released: what `/api/health` needs before it says ready."""
        error = probe(self.bot)
        if error is None and self.logbook is not None:
            try:
                self.logbook.ping()
            except Exception as e:  # any failure means "not ready"; health and the caller report it
                error = f"{type(e).__name__}: {e}"
        if error is not None:
            self.self_test_error = error
            logging.getLogger("convrec").error("start-up self-test failed: %s", self.self_test_error)
            self.ready = False
            return False
        self.self_test_error, self.ready = None, True
        return True

    def health(self) -> dict:
        g = self.gate.stats()
        return {"status": "ok" if self.ready else "starting" if self.self_test_error is None else "failed",
                "artifacts": "ready" if self.ready else "unchecked", "self_test_error": self.self_test_error,
                "catalog": self.bot.catalog.name, "items": len(self.bot.catalog), "pipeline": dict(self.pipeline),
                "logbook": None if self.logbook is None else self.logbook.health(),
                "turns": {"limit": g.limit, "queue": g.queue, "active": g.active, "waiting": g.waiting,
                          "peak_active": g.peak_active, "admitted": g.admitted, "rejected": g.rejected}}

    def _remember(self, session_id: str, p: Participation) -> None:
        with self._participation_lock:
            self.participation[session_id] = p
            self.participation.move_to_end(session_id)
            while len(self.participation) > PARTICIPATION_CACHE:
                self.participation.popitem(last=False)

    def participation_of(self, session_id: str) -> Participation | None:
        """The session's study arm: from memory, else as the logbook recorded it."""
        if self.study is None:
            return None
        with self._participation_lock:
            p = self.participation.get(session_id)
        if p is None and self.logbook is not None:
            try:
                found = self.logbook.session_arm(session_id)
            except LOG_FAILURES as e:  # the arm decides α: without it, say "later" rather than guess
                raise Busy(2, f"the study log cannot be read right now ({type(e).__name__})") from None
            if found is not None:
                p = Participation(found[0], found[1], self.study.arm(found[1]).alpha)
                self._remember(session_id, p)
        return p

    def start(self, session_id: str, user_id: str | None = None, participant_id: str | None = None) -> Session:
        """A new session; in study mode a participant id is required and assigns the arm."""
        session = self.bot.new_session(session_id, user_id)
        if self.study is not None:
            try:
                pid = clean_participant_id(participant_id)
            except ValueError as e:  # an empty or over-long id: say so to the person
                raise BadInput(str(e)) from None
            if self.logbook is None:
                raise BadInput("study mode needs a logbook (--log-db)")
            try:
                arm = assign_recorded(self.logbook, session_id, pid, self.study)
            except LOG_FAILURES as e:  # the arm must be recorded before the session starts
                raise Busy(2, f"the study log is not writable right now ({type(e).__name__})") from None
            self._remember(session_id, Participation(pid, arm.name, arm.alpha))
        if self.logbook is not None:
            p = self.participation_of(session_id)
            self.logbook.log_session(session_id, p.participant_id if p else None,
                                     p.arm if p else None, user_id)
        return session

    def set_user(self, session: Session, user_id: str | None) -> Session:
        if user_id == session.user_id:
            return session
        self.bot.new_session(session.session_id, user_id)  # validates the id
        if self.logbook is not None:
            self.logbook.log_event(session.session_id, "user_changed", {"user_id": user_id})
        return with_user(session, user_id)

    def alpha_for(self, session_id: str, alpha: float | None) -> float | None:
        """A study arm's α wins over the caller's, so arms stay what they claim to be."""
        p = self.participation_of(session_id)
        return p.alpha if p is not None and p.alpha is not None else alpha

    def turn(self, session: Session, message: str, alpha: float | None = None) -> tuple[Answer, list[dict]]:
        alpha = self.alpha_for(session.session_id, alpha)
        with self.gate.turn():  # Busy when too many turns run and wait already
            start = time.perf_counter()  # logged latency: the turn's own time, as before the gate
            turn = self.bot.respond(message, session, alpha=alpha)
        items = items_json(turn, self.bot.catalog.units)
        if self.logbook is not None:
            self.logbook.log_turn(session.session_id, len(turn.session.turns) - 1, turn.session.turns[-1],
                                  turn.reply, items, (time.perf_counter() - start) * 1000)
        return turn, items

    def refresh(self, session: Session, alpha: float | None = None, cause: dict | None = None
                ) -> tuple[Answer, list[dict]]:
        """A new list for the session as it stands, without a new message (after 👍 / 👎 on
        a pick): the same gate and study arm as a turn. Logged as a "refresh" event with its
        items and `cause` (e.g. {"item_id", "kind"}), not as a turn, so turn indices (and the
        ratings that point at them) keep counting the person's messages."""
        if not session.turns:
            raise BadInput("there is no list to refresh yet: say what you are looking for first")
        alpha = self.alpha_for(session.session_id, alpha)
        with self.gate.turn():
            start = time.perf_counter()
            turn = self.bot.recommend(session, alpha=alpha)
        items = items_json(turn, self.bot.catalog.units)
        if self.logbook is not None:
            self.logbook.log_event(session.session_id, "refresh",
                                   {**(cause or {}), "turn_index": len(session.turns) - 1, "items": items,
                                    "latency_ms": round((time.perf_counter() - start) * 1000, 3)})
        return turn, items

    def feedback(self, session: Session, item_id: str, kind: str) -> Session:
        """kind: like, dislike or unlike (take back either); applies from the next turn."""
        if kind == "like":
            new = self.bot.feedback(session, liked=(item_id,))
        elif kind == "dislike":
            new = self.bot.feedback(session, disliked=(item_id,))
        elif kind == "unlike":
            if item_id not in self.bot.catalog:
                raise BadInput(f"unknown item id {item_id!r}")
            new = replace(session, liked_ids=tuple(i for i in session.liked_ids if i != item_id),
                          disliked_ids=tuple(i for i in session.disliked_ids if i != item_id))
        else:
            raise BadInput(f"feedback must be like, dislike or unlike, got {kind!r}")
        if self.logbook is not None:
            self.logbook.log_feedback(session.session_id, item_id, kind, max(len(session.turns) - 1, 0))
        return new

    def rate(self, session: Session, rating: int) -> None:
        if not session.turns:
            raise BadInput("there is no reply to rate yet")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise BadInput(f"a rating is a whole number from 1 to 5, got {rating!r}")
        if self.logbook is not None:
            self.logbook.log_rating(session.session_id, len(session.turns) - 1, rating)

    def edit(self, session: Session, liked: tuple[str, ...], disliked: tuple[str, ...],
             banned_genres: tuple[str, ...]) -> Session:
        new = self.bot.edit(session, liked, disliked, banned_genres)
        if self.logbook is not None:
            self.logbook.log_event(session.session_id, "summary_edited",
                                   {"liked": list(liked), "disliked": list(disliked),
                                    "banned_genres": list(banned_genres)})
        return new

    def reset(self, session: Session) -> Session:
        """Forget the conversation, keep the session id, user and study arm."""
        if self.logbook is not None:
            self.logbook.log_event(session.session_id, "reset", {"turns": len(session.turns)})
        return Session(session.session_id, session.user_id)
