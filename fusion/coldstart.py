"""The cold-start protocol shared by the tuner (fusion/tune.py) and the benchmark
(benchmarks/coldstart.py): whole users held out, their first k likes revealed.

For a held-out user, "liked" = rated >= LIKE_RATING, sorted by time. Episode (user, k):
the first k liked items are the session's history (each weighted like a chat like), the
request text is built from the genres of the user's *held-out* liked items (those after
the first K_MAX, the same targets for every k, so results are comparable across k) and
asks for those genres (`Request.wanted_genres`, as the bot sets them on hearing genre
names; only a Recommender with the "genres" term reads them), and
the catalog is ranked by the Recommender's own pool/order (text top-N ∪ CF top-N, see
fusion/recommender.py); revealed items are excluded. Metrics: Recall@10 (hits over
min(10, |targets|)), NDCG@10 (binary gains), MRR@10.

Users are split once with a fixed seed into test, validation and training users; CF
models are fitted on the training users' ratings only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from fusion.cf import History
from fusion.recommender import Pool, Recommender
from fusion.terms import Request
from retrieval.records import Catalog, Interactions

KS = (0, 1, 3, 5, 10)  # revealed likes per episode (the k)
K_MAX = max(KS)
LIKE_RATING = 4.0  # MovieLens stars: 4 and 5 are "liked" (the usual threshold for ML-100k)
MIN_TARGETS = 5  # held-out likes a user needs beyond the K_MAX revealed ones
N_GENRES = 3  # genres named in the request: enough to steer, few enough to be a request
CUTOFF = 10  # list length of the metrics (@10)


@dataclass(frozen=True)
class HeldOutUser:
    user_id: str
    liked_rows: np.ndarray  # int64, liked items in time order
    targets: np.ndarray  # int64, liked_rows[K_MAX:]
    request: str  # text built from the targets' genres
    wanted_genres: tuple[str, ...]  # lower-case: the genres the request names


@dataclass(frozen=True)
class Split:
    test: tuple[HeldOutUser, ...]
    validation: tuple[HeldOutUser, ...]
    train: Interactions  # ratings of every other user


def request_genres(catalog: Catalog, rows: np.ndarray) -> tuple[str, ...]:
    """The N_GENRES most frequent genres of `rows` in the catalog's spelling, most frequent
    first (ties by name)."""
    counts = Counter(g for r in rows for g in catalog.items[int(r)].genres)
    return tuple(g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:N_GENRES])


def request_text(catalog: Catalog, rows: np.ndarray) -> str:
    """'Something to watch. Genres: A, B, C.' (the verb is the catalog's: "read" for books)
    with the targets' most frequent genres, in the catalog's item-text form (as the bot
    appends wanted genres to a message)."""
    top = request_genres(catalog, rows)
    ask = f"Something to {catalog.kind.verb}."
    return f"{ask} Genres: {', '.join(top)}." if top else ask


def _liked_events(interactions: Interactions) -> dict[str, list[tuple[int, int]]]:
    """user -> [(timestamp, row)] of the items they liked (rated >= LIKE_RATING)."""
    liked = interactions.weights >= LIKE_RATING
    by_user: dict[str, list[tuple[int, int]]] = {}
    for u, r, t in zip(interactions.user_ids[liked], interactions.item_rows[liked], interactions.timestamps[liked]):
        by_user.setdefault(u, []).append((int(t), int(r)))
    return by_user


def eligible_users(interactions: Interactions) -> list[str]:
    """Users who can be held out (sorted): K_MAX likes to reveal plus MIN_TARGETS to find."""
    return sorted(u for u, v in _liked_events(interactions).items() if len(set(r for _, r in v)) >= K_MAX + MIN_TARGETS)


def split_users(catalog: Catalog, interactions: Interactions, n_test: int, n_validation: int,
                seed: int = 0) -> Split:
    by_user = _liked_events(interactions)
    eligible = eligible_users(interactions)
    if len(eligible) < n_test + n_validation:
        raise ValueError(f"only {len(eligible)} users have >= {K_MAX + MIN_TARGETS} liked items; "
                         f"ask for fewer than {n_test} + {n_validation}")
    order = np.random.default_rng(seed).permutation(len(eligible))
    chosen = [eligible[i] for i in order[: n_test + n_validation]]

    def held(u: str) -> HeldOutUser:
        rows = np.array(list(dict.fromkeys(r for _, r in sorted(by_user[u]))), np.int64)
        targets = rows[K_MAX:]
        return HeldOutUser(u, rows, targets, request_text(catalog, targets),
                           tuple(g.lower() for g in request_genres(catalog, targets)))

    out = set(chosen)
    keep = np.array([u not in out for u in interactions.user_ids])
    train = Interactions(interactions.user_ids[keep], interactions.item_rows[keep],
                         interactions.weights[keep], interactions.timestamps[keep])
    return Split(tuple(held(u) for u in chosen[:n_test]), tuple(held(u) for u in chosen[n_test:]), train)


def ranking_metrics(ranked: np.ndarray, targets: np.ndarray, cutoff: int = CUTOFF) -> tuple[float, float, float]:
    """(Recall@cutoff, NDCG@cutoff, MRR@cutoff) of a ranked row list against target rows."""
    top = ranked[:cutoff]
    hit = np.isin(top, targets)
    n_rel = min(cutoff, len(targets))
    recall = float(hit.sum()) / max(n_rel, 1)
    discounts = 1.0 / np.log2(np.arange(2, cutoff + 2))
    ndcg = float((hit * discounts[: len(top)]).sum() / discounts[:n_rel].sum()) if n_rel else 0.0
    first = np.flatnonzero(hit)
    mrr = 1.0 / (first[0] + 1) if len(first) else 0.0
    return recall, ndcg, mrr


@dataclass(frozen=True)
class Episode:
    user: HeldOutUser
    k: int
    pool: Pool


def episodes(recommender: Recommender, users: Sequence[HeldOutUser], query_vectors: np.ndarray,
             like_weight: float, progress: Callable | None = None) -> list[Episode]:
    """One pool per (user, k): the expensive part, shared by every fuser evaluated on it."""
    out = []
    it = progress(list(enumerate(users))) if progress else enumerate(users)
    for i, user in it:
        for k in KS:
            revealed = user.liked_rows[:k]
            history = History(revealed, np.full(k, like_weight, np.float32))
            request = Request(query_vectors[i], history if k else History.empty(),
                              excluded=frozenset(revealed.tolist()), wanted_genres=user.wanted_genres)
            out.append(Episode(user, k, recommender.pool(request)))
    return out


def evaluate(recommender: Recommender, eps: Sequence[Episode], fuser, mmr_lambda: float | None = None
             ) -> tuple[np.ndarray, list[np.ndarray]]:
    """metrics float64 (len(eps), 3) = Recall, NDCG, MRR per episode, and the top lists."""
    m = np.zeros((len(eps), 3))
    lists = []
    for i, ep in enumerate(eps):
        rows = recommender.order(ep.pool, CUTOFF, fuser, mmr_lambda).rows
        m[i] = ranking_metrics(rows, ep.user.targets)
        lists.append(rows)
    return m, lists


def by_k(eps: Sequence[Episode], values: np.ndarray) -> dict[int, np.ndarray]:
    """Split per-episode values (rows aligned with eps) by k; rows stay in user order."""
    ks = np.array([ep.k for ep in eps])
    return {k: values[ks == k] for k in KS}


def validation_ndcg(recommender: Recommender, users: Sequence[HeldOutUser], query_vectors: np.ndarray
                    ) -> Callable[[object], np.ndarray]:
    """config -> NDCG@10 per k of KS (float64 (len(KS),), each the mean over `users`; their
    mean is the tuner's metric) of `recommender` under that config, its own fuser and MMR λ. Pools are built once per
    candidate structure (what sets the pool: query mode, text and CF candidates, like
    weight) and shared by every config with that structure. A guard for choices made on
    other data (the replay defaults, bot/offline/replay.py) that must not cost what likes bring."""
    pools: dict[tuple, list[Episode]] = {}

    def score(config) -> float:
        rec = recommender.with_config(config)
        key = (config.query, config.n_candidates, config.n_cf_candidates, config.like_weight)
        if key not in pools:
            pools[key] = episodes(rec, users, query_vectors, config.like_weight)
        ndcg = by_k(pools[key], evaluate(rec, pools[key], rec.fuser, config.mmr_lambda)[0][:, 1])
        return np.array([ndcg[k].mean() for k in KS])

    return score
