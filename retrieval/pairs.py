"""Training pairs (query text -> catalog item) for contrastive fine-tuning, from three sources.

1. `dialogue_pairs`: ReDial-format dialogues; the context before a recommender turn ->
   each movie that turn mentions (hard negative: a movie the seeker said they disliked).
2. `interaction_pairs`: an interaction log alone, so any catalog can fine-tune without
   dialogues: "I liked A, B and C" -> another item the same user liked, and metadata
   phrases ("a comedy book from the 1990s", in the catalog's own kind of item) -> an item
   that fits them. `split_pair_users` holds whole users out for validation pairs.
3. `log_pairs`: the bot's own logged sessions (`LoggedSession`, read from the logbook by
   bot/offline/learn.py): what the person had said -> each item they liked (hard negative: an item
   the same session disliked).

Every builder returns `Pair`s with external item ids; training looks the texts up in
the catalog. Builders are deterministic for a given seed. Nothing here trains anything.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from retrieval.loaders import DataError
from retrieval.records import Catalog, Interactions, LoggedSession
from retrieval.dialogue import Dialogue, context_text, recommender_samples


@dataclass(frozen=True)
class Pair:
    query: str
    item_id: str
    negative_id: str | None = None  # a hard negative for this query, when one is known


def fingerprint(pairs: Sequence[Pair]) -> str:
    """sha256 over the pairs, for the fine-tuned model's manifest."""
    h = hashlib.sha256()
    for p in pairs:
        h.update(f"{p.query}\x00{p.item_id}\x00{p.negative_id or ''}\x01".encode())
    return h.hexdigest()


# --- 1. dialogues ---------------------------------------------------------------------
def dialogue_pairs(dialogues: Iterable[Dialogue], n_turns: int = 0,
                   hard_negatives: bool = True, seed: int = 0) -> list[Pair]:
    """One pair per (recommender turn, mentioned movie); query = the context text as the
    evaluation renders it (`context_text`, the last `n_turns` turns, 0 = all)."""
    rng = random.Random(seed)
    out = []
    for s in recommender_samples(dialogues):
        query = context_text(s.context, n_turns)
        negatives = [m for m in s.disliked_ids if m not in s.target_ids]
        for target in s.target_ids:
            neg = rng.choice(negatives) if hard_negatives and negatives else None
            out.append(Pair(query, target, neg))
    return out


# --- 2. interactions alone --------------------------------------------------------------
def _liked_by_user(interactions: Interactions) -> dict[str, list[int]]:
    """Per user, the rows rated at or above their own mean (their likes), oldest first."""
    by_user: dict[str, list[tuple[int, float, int]]] = {}
    for u, r, w, t in zip(interactions.user_ids, interactions.item_rows,
                          interactions.weights, interactions.timestamps):
        by_user.setdefault(str(u), []).append((int(t), float(w), int(r)))
    liked = {}
    for u, events in by_user.items():
        mean = sum(w for _, w, _ in events) / len(events)
        rows = [r for _, w, r in sorted(events) if w >= mean]
        if len(rows) >= 2:
            liked[u] = rows
    return liked


def pair_evidence(interactions: Interactions) -> tuple[int, int]:
    """(users with at least two likes, their likes): the users a taste pair can come
    from, and the distinct (user, liked item) targets behind every taste pair, however
    many pairs are then drawn from them."""
    liked = _liked_by_user(interactions)
    return len(liked), sum(len(set(rows)) for rows in liked.values())


def split_pair_users(interactions: Interactions, valid_share: float = 0.1, seed: int = 0,
                     min_valid: int = 1) -> tuple[Interactions, Interactions]:
    """(training users' events, validation users' events): a seed-fixed `valid_share` of
    the users with two or more likes (at least `min_valid`) is held out whole, so no
    validation pair shares a user with the training pairs (a pair split would test on the
    training users' own likes, often the very same pair drawn twice)."""
    users = sorted(_liked_by_user(interactions))
    n_valid = min(len(users) - 1, max(min_valid, int(round(len(users) * valid_share)))) if len(users) > 1 else 0
    held = {users[i] for i in np.random.default_rng(seed).permutation(len(users))[:n_valid]}
    out = np.array([str(u) in held for u in interactions.user_ids], bool)

    def take(mask: np.ndarray) -> Interactions:
        return Interactions(interactions.user_ids[mask], interactions.item_rows[mask],
                            interactions.weights[mask], interactions.timestamps[mask])

    return take(~out), take(out)


def interaction_pairs(catalog: Catalog, interactions: Interactions, max_pairs: int = 4000,
                      history: int = 3, metadata_share: float = 0.25, seed: int = 0) -> list[Pair]:
    """`max_pairs` pairs: (1 - metadata_share) of them "I liked <titles>" -> another liked
    item of the same user (hard negative: an item that user rated below their mean), the
    rest metadata phrases -> a random item that fits them."""
    rng = random.Random(seed)
    liked = _liked_by_user(interactions)
    disliked: dict[str, list[int]] = {}
    sums: dict[str, tuple[float, int]] = {}
    for u, w in zip(interactions.user_ids, interactions.weights):
        s, n = sums.get(str(u), (0.0, 0))
        sums[str(u)] = (s + float(w), n + 1)
    for u, r, w in zip(interactions.user_ids, interactions.item_rows, interactions.weights):
        s, n = sums[str(u)]
        if float(w) < s / n:
            disliked.setdefault(str(u), []).append(int(r))
    users = sorted(liked)
    out: list[Pair] = []
    n_taste = int(round(max_pairs * (1.0 - metadata_share))) if users else 0
    for _ in range(n_taste):
        u = rng.choice(users)
        rows = liked[u]
        k = min(history, len(rows) - 1)
        picked = rng.sample(rows, k + 1)
        titles = [catalog.items[r].label() for r in picked[:k]]
        query = _liked_phrase(titles, rng)
        neg = catalog.items[rng.choice(disliked[u])].item_id if disliked.get(u) else None
        out.append(Pair(query, catalog.items[picked[k]].item_id, neg))
    out.extend(metadata_pairs(catalog, max_pairs - len(out), rng))
    return out


LIKED_TEMPLATES = ("I liked {}.", "I really enjoyed {}. What else would I like?",
                   "My favourites are {}.", "Something like {}, please.")


def _liked_phrase(titles: list[str], rng: random.Random) -> str:
    joined = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
    return rng.choice(LIKED_TEMPLATES).format(joined)


def metadata_pairs(catalog: Catalog, n: int, rng: random.Random) -> list[Pair]:
    """Phrases built from an item's own genres and decade, in the catalog's word for its
    items ("a fantasy book from the 1990s") -> that item; items without genres are skipped."""
    rows = [r for r, it in enumerate(catalog.items) if it.genres]
    noun = catalog.kind.noun
    out: list[Pair] = []
    if not rows or n <= 0:
        return out
    for _ in range(n):
        item = catalog.items[rng.choice(rows)]
        genres = rng.sample(list(item.genres), min(len(item.genres), rng.choice((1, 2))))
        phrase = " ".join(g.lower() for g in genres)
        if item.year and rng.random() < 0.5:  # half the phrases name a decade
            phrase += f" {noun} from the {item.year // 10 * 10}s"
        else:
            phrase += f" {noun}"
        template = rng.choice(("I want {}.", "Recommend {}.", "Any good {}?"))
        article = "an" if phrase[:1] in "aeiou" else "a"
        out.append(Pair(template.format(f"{article} {phrase}" if "?" not in template else phrase), item.item_id))
    return out


# --- 3. the bot's own logs --------------------------------------------------------------
def log_pairs(sessions: Iterable[LoggedSession], catalog: Catalog, n_turns: int = 0, seed: int = 0) -> list[Pair]:
    """One pair per liked item of each logged session (bot/offline/learn.py reads them from the
    logbook): the person's messages up to the turn whose list held the item (the last
    `n_turns` of them, 0 = all) -> that item; hard negative: an item the same session
    disliked (seeded choice), when it disliked any. Items outside the catalog are an
    error: the log was written for another catalog."""
    rng = random.Random(seed)
    out = []
    for s in sessions:
        for item_id, _ in (*s.liked, *s.disliked):
            if item_id not in catalog:
                raise DataError(f"session {s.session_id}: item id {item_id!r} is not in catalog "
                                f"{catalog.name!r}; was the log written for another catalog?")
        negatives = [i for i, _ in s.disliked]
        for item_id, turn in s.liked:
            said = [m for m in s.messages[:turn + 1] if m.strip()]
            said = said[-n_turns:] if n_turns else said
            if not said:
                continue  # a like before any message: no context to learn from
            out.append(Pair(" ".join(said), item_id, rng.choice(negatives) if negatives else None))
    return out


def split_pairs(pairs: Sequence[Pair], valid_share: float = 0.1, seed: int = 0,
                max_valid: int = 500) -> tuple[list[Pair], list[Pair]]:
    """Deterministic train/valid split for early stopping (shuffled with `seed`)."""
    idx = np.random.default_rng(seed).permutation(len(pairs))
    n_valid = min(max_valid, int(len(pairs) * valid_share))
    return [pairs[i] for i in idx[n_valid:]], [pairs[i] for i in idx[:n_valid]]
