"""The cold-start protocol: metrics by hand, a user split that leaks nothing, and (slow)
a few real MovieLens users end to end."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.cf import ItemKNN
from fusion.coldstart import K_MAX, KS, by_k, episodes, evaluate, ranking_metrics, request_text, split_users
from fusion.fuse import WeightedFuser
from fusion.config import PipelineConfig
from fusion.recommender import Recommender
from retrieval.loaders import item_text
from retrieval.records import Catalog, Interactions, Item
from retrieval.retriever import Retriever


def test_ranking_metrics_by_hand():
    ranked = np.array([5, 1, 7, 2])
    # targets {1, 2}: hits at ranks 2 and 4; recall 2/2; DCG = 1/log2(3) + 1/log2(5)
    r, n, m = ranking_metrics(ranked, np.array([1, 2]))
    assert r == 1.0 and m == 0.5
    assert n == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / (1 + 1 / np.log2(3)))
    assert ranking_metrics(ranked, np.array([9])) == (0.0, 0.0, 0.0)
    # more targets than the cutoff: recall is over min(cutoff, |targets|)
    assert ranking_metrics(np.arange(10), np.arange(20))[:2] == (1.0, pytest.approx(1.0))


def test_request_names_the_most_frequent_genres(tiny_catalog):
    from retrieval.facets import BOOK, MOVIE

    # rows 0, 1, 2 are Animation|Children|Comedy, row 5 Animation|Comedy|Sci-Fi
    movies = Catalog("tiny", tiny_catalog.items, kind=MOVIE)
    assert request_text(movies, np.array([0, 1, 5])) == "Something to watch. Genres: Animation, Comedy, Children."
    # the verb is the catalog's: a bookshop's held-out users ask for something to read
    books = Catalog("tiny", tiny_catalog.items, kind=BOOK)
    assert request_text(books, np.array([3])) == "Something to read. Genres: Animation, Children."


def _catalog() -> Catalog:
    """20 movies: even rows comedies, odd rows thrillers (enough for 15 likes per user)."""
    items = []
    for r in range(20):
        g = ("Comedy",) if r % 2 == 0 else ("Thriller",)
        items.append(Item(f"m{r}", f"Movie {r}", item_text(f"Movie {r}", 2000, g), 2000, g))
    return Catalog("twenty", tuple(items))


def _log(n_users: int, n_items: int, seed: int = 0) -> Interactions:
    """Every user likes 16 items (rating 5) at increasing timestamps."""
    rng = np.random.default_rng(seed)
    users, rows, ws, ts = [], [], [], []
    for u in range(n_users):
        for j, r in enumerate(rng.choice(n_items, 16, replace=False)):
            users.append(f"u{u}"), rows.append(r), ws.append(5.0), ts.append(100 * u + j)
    return Interactions(np.array(users, dtype=object), np.array(rows, np.int64),
                        np.array(ws, np.float32), np.array(ts, np.int64))


def test_split_holds_out_whole_users_in_time_order():
    catalog, log = _catalog(), _log(10, 20)
    split = split_users(catalog, log, 3, 2, seed=1)
    held = {u.user_id for u in split.test} | {u.user_id for u in split.validation}
    assert len(held) == 5 and not held & set(split.train.user_ids.tolist())
    u = split.test[0]
    mine = log.user_ids == u.user_id
    # time order: the first K_MAX likes are revealed, the rest are targets
    want = list(dict.fromkeys(log.item_rows[mine][np.argsort(log.timestamps[mine])].tolist()))
    assert u.liked_rows.tolist() == want and u.targets.tolist() == want[K_MAX:]
    again = split_users(catalog, log, 3, 2, seed=1)  # seeded: the same users again
    assert [u.user_id for u in again.test] == [u.user_id for u in split.test]
    with pytest.raises(ValueError, match="fewer"):
        split_users(catalog, log, 8, 8)


def test_episodes_reveal_k_likes_and_exclude_them(hashing_encoder):
    catalog, log = _catalog(), _log(10, 20)
    split = split_users(catalog, log, 2, 1)
    rec = Recommender(Retriever.build(catalog, hashing_encoder), ItemKNN.fit(split.train, 20),
                      PipelineConfig(n_candidates=20, n_cf_candidates=20))
    qv = hashing_encoder.encode([u.request for u in split.test])
    eps = episodes(rec, split.test, qv, 1.5)
    assert [e.k for e in eps] == list(KS) * 2
    for e in eps:
        assert e.pool.n_liked == e.k and not set(e.user.liked_rows[:e.k]) & set(e.pool.rows.tolist())
    m, lists = evaluate(rec, eps, WeightedFuser(0.5))
    assert m.shape == (len(eps), 3) and all(len(x) <= 10 for x in lists)
    assert set(by_k(eps, m[:, 1])) == set(KS)


@pytest.mark.slow
def test_real_movielens_users_end_to_end():
    """A handful of real held-out users: CF beats chance and fusion runs (< 1 min)."""
    from fusion.tune import N_TEST, N_VALIDATION, SEED, load_text
    from retrieval.encoder import TransformerEncoder
    from retrieval.movielens import load_movielens

    catalog, interactions = load_movielens()
    encoder = TransformerEncoder()
    from pathlib import Path

    retriever = load_text(catalog, encoder, Path(__file__).resolve().parent.parent / "artifacts/movielens/text")
    split = split_users(catalog, interactions, N_TEST, N_VALIDATION, SEED)
    users = split.test[:20]
    rec = Recommender(retriever, ItemKNN.fit(split.train, len(catalog)))
    eps = episodes(rec, users, encoder.encode([u.request for u in users]), 1.5)
    cf = by_k(eps, evaluate(rec, eps, WeightedFuser(0.0))[0][:, 1])
    assert cf[10].mean() > 0.05  # chance is ~10 / 9,061 per target


def test_fine_tuning_never_sees_the_held_out_users():
    """The first-run fine-tune learns from the users tuning and the cold-start benchmark
    do not score; with too few users nothing is held out."""
    from fusion.tune import N_TEST, N_VALIDATION, SEED, training_users

    catalog = _catalog()
    log = _log(N_TEST + N_VALIDATION + 120, 20)
    split = split_users(catalog, log, N_TEST, N_VALIDATION, SEED)
    kept = set(training_users(catalog, log).user_ids.tolist())
    held = {u.user_id for u in split.test + split.validation}
    assert len(held) == N_TEST + N_VALIDATION and not kept & held and len(kept) == 120
    small = _log(30, 20)
    assert training_users(catalog, small) is small
