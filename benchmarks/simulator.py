"""A user simulator: held-out MovieLens users chat with the real bot, their ratings the truth.

Each `SimUser` is one rater held out from everything the pipeline was fitted or tuned on
(fusion/coldstart.py `split_users`: the benchmark's test users). A seeded share of their
liked items (rated >= 4) is kept back as `targets`, the ground truth the long-term
benchmark ranks against; the simulator never reacts to those. A session:

1. opens with words drawn from the genres of the items the user rated highly (and, half of
   the time, a person two of them share: "directed by Woody Allen", "with Tom Hanks");
2. reads each list the real `Bot` returns through `ChatService` (the service the chat and
   the API use, so the turn, feedback and consent land in the logbook exactly as a real
   participant's would) and reacts as the ratings say: like what it rated >= 4, dislike
   what it rated <= 2, each with a seeded acceptance probability; unknown items ignored;
3. goes on for `turns` turns ("show me more", then a further genre it likes).

Simulated users are consenting study participants (`sim<user id>`), so `python -m
bot.offline.learn` learns from them; once the CF model knows a participant (it learned from
them), their next session starts as that known user, as a returning person would.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from bot.conversation.chat import Bot
from bot.service.logbook import Logbook
from bot.service.chatservice import ChatService
from bot.service.study import Arm, StudyConfig
from fusion.coldstart import LIKE_RATING
from retrieval.facets import ROLE_WORDS
from retrieval.records import Catalog, Interactions

DISLIKE_RATING = 2.0  # MovieLens stars: 2 and below is a dislike
STUDY = StudyConfig(arms=(Arm("simulated"),), consent_text="Simulated participants (benchmarks/simulator.py).")
OPENINGS = ("I'd like a {genres} {noun}{person}.", "Something {genres}{person}, please.",
            "Any good {genres} {plural}{person}?")


@dataclass(frozen=True)
class SimConfig:
    turns: int = 3  # messages per session
    accept: float = 0.8  # chance of reacting to an item the ratings know (seeded per user and session)
    target_share: float = 0.5  # liked items kept back as ground truth, never reacted to
    n_genres: int = 2  # genres named in the opening
    person_share: float = 0.5  # openings that also name a person shared by two liked items
    seed: int = 0


@dataclass(frozen=True)
class SimUser:
    user_id: str  # the MovieLens rater
    ratings: Mapping[int, float]  # catalog row -> stars, the items it reacts to (targets left out)
    targets: np.ndarray  # int64: liked rows kept back for evaluation
    genres: tuple[str, ...]  # its liked items' genres, most frequent first
    people: tuple[tuple[str, str], ...] = ()  # (role, name) shared by >= 2 liked items, most frequent first
    participant_id: str = field(default="")

    def reaction(self, row: int) -> str | None:
        """"like", "dislike" or None (no rating, or a middling one), as its ratings say."""
        r = self.ratings.get(row)
        if r is None:
            return None
        return "like" if r >= LIKE_RATING else "dislike" if r <= DISLIKE_RATING else None


def make_users(catalog: Catalog, interactions: Interactions, user_ids: Sequence[str],
               config: SimConfig = SimConfig()) -> list[SimUser]:
    """One SimUser per id, from its ratings; the targets are a seeded `target_share` of its
    liked items (at least one when it liked two or more)."""
    by_user: dict[str, dict[int, float]] = {u: {} for u in user_ids}
    for u, r, w in zip(interactions.user_ids, interactions.item_rows, interactions.weights):
        if u in by_user:
            by_user[u][int(r)] = float(w)
    out = []
    for u in user_ids:
        ratings = by_user[u]
        liked = sorted(r for r, w in ratings.items() if w >= LIKE_RATING)
        rng = np.random.default_rng([config.seed, int.from_bytes(u.encode(), "little") % (2 ** 32)])
        n = int(round(len(liked) * config.target_share))
        n = max(n, 1) if len(liked) >= 2 and config.target_share > 0 else n
        targets = np.array(sorted(rng.permutation(liked)[:n].tolist()), np.int64)
        visible = {r: w for r, w in ratings.items() if r not in set(targets.tolist())}
        seen = [r for r, w in visible.items() if w >= LIKE_RATING]
        genres = Counter(g for r in seen for g in catalog.items[r].genres)
        people = Counter((role, name) for r in seen for role in ("director", "cast")
                         for name in catalog.items[r].facets.people.get(role, ()))
        out.append(SimUser(u, visible, targets, tuple(g for g, _ in sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))),
                           tuple(p for p, n in sorted(people.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2),
                           f"sim{u}"))
    return out


def opening(user: SimUser, catalog: Catalog, rng: random.Random, config: SimConfig = SimConfig(),
            person: bool | None = None) -> str:
    """The first message: `n_genres` genres drawn from the user's three most frequent liked
    genres, in the catalog's words for its items, and (with `person`, else with chance
    `person_share`) a person its liked items share."""
    pool = list(user.genres[:3])
    picked = rng.sample(pool, min(config.n_genres, len(pool))) if pool else []
    genres = " and ".join(g.lower() for g in picked) or "good"
    who = ""
    use_person = rng.random() < config.person_share if person is None else person
    if use_person and user.people:
        role, name = user.people[0]
        who = f" {ROLE_WORDS.get(role, 'with')} {name}"
    template = rng.choice(OPENINGS)
    return template.format(genres=genres, noun=catalog.kind.noun, plural=catalog.kind.plural, person=who)


def follow_up(user: SimUser, turn: int, rng: random.Random) -> str:
    """Later messages: "show me more" on odd turns, else a further liked genre."""
    if turn % 2 == 1 or len(user.genres) < 2:
        return "Show me more."
    return f"Now something {rng.choice(user.genres[:4]).lower()}."


@dataclass(frozen=True)
class SessionResult:
    session_id: str
    lists: tuple[tuple[int, ...], ...]  # rows shown, per turn
    liked: tuple[int, ...]
    disliked: tuple[int, ...]


class Simulator:
    """Runs simulated sessions through one `Bot`, logging to `logbook` as the service does."""

    def __init__(self, bot: Bot, logbook: Logbook | None, config: SimConfig = SimConfig()) -> None:
        self.bot = bot
        self.config = config
        self.service = ChatService(bot, logbook, STUDY if logbook is not None else None)

    def session(self, user: SimUser, session_id: str, seed: int) -> SessionResult:
        """One session of `config.turns` messages; reactions apply from the next turn."""
        rng = random.Random(f"{self.config.seed}/{user.user_id}/{seed}")
        catalog = self.bot.catalog
        key = f"participant:{user.participant_id}"
        known = key if self.bot.recommender.cf.knows_user(key) else None  # a returning participant
        svc = self.service
        session = svc.start(session_id, known, user.participant_id if svc.study else None)
        if svc.logbook is not None:
            svc.logbook.log_event(session_id, "consent", {"accepted": True})  # as the chat's consent step logs it
        lists, liked, disliked = [], [], []
        for t in range(self.config.turns):
            message = opening(user, catalog, rng, self.config) if t == 0 else follow_up(user, t, rng)
            turn, _ = svc.turn(session, message)
            session = turn.session
            rows = tuple(catalog.row(it.recommendation.item.item_id) for it in turn.items)
            lists.append(rows)
            for row in rows:
                kind = user.reaction(row)
                if kind is not None and rng.random() < self.config.accept:
                    session = svc.feedback(session, catalog.items[row].item_id, kind)
                    (liked if kind == "like" else disliked).append(row)
        return SessionResult(session_id, tuple(lists), tuple(liked), tuple(disliked))
