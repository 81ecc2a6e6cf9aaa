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
        assert not e.pool.terms  # a plain Recommender: the wanted genres change nothing in its pools
    m, lists = evaluate(rec, eps, WeightedFuser(0.5))
    assert m.shape == (len(eps), 3) and all(len(x) <= 10 for x in lists)
    assert set(by_k(eps, m[:, 1])) == set(KS)


def test_validation_ndcg_scores_configs_over_the_same_pools(hashing_encoder):
    """The guard of the replay defaults: one set of pools, each config ranked with its own
    fuser; the figures are evaluate's NDCG@10 per k, each the mean over users."""
    from fusion.coldstart import validation_ndcg

    catalog, log = _catalog(), _log(10, 20)
    split = split_users(catalog, log, 2, 3)
    rec = Recommender(Retriever.build(catalog, hashing_encoder), ItemKNN.fit(split.train, 20),
                      PipelineConfig(n_candidates=20, n_cf_candidates=20))
    qv = hashing_encoder.encode([u.request for u in split.validation])
    per_k = validation_ndcg(rec, split.validation, qv)

    def score(config):
        return per_k(config).mean()

    eps = episodes(rec, split.validation, qv, 1.5)
    for alpha in (0.0, 1.0):
        config = rec.config.with_(alpha=alpha)
        ndcg = evaluate(rec.with_config(config), eps, WeightedFuser(alpha))[0][:, 1]
        assert score(config) == pytest.approx(ndcg.mean())
        assert per_k(config) == pytest.approx([v.mean() for v in by_k(eps, ndcg).values()])
    assert score(rec.config.with_(alpha=0.0)) != score(rec.config.with_(alpha=1.0))
    # another candidate structure gets pools of its own: with 2 text candidates, k = 0 lists hold 2 items
    few = rec.config.with_(n_candidates=2, alpha=1.0)
    small = episodes(rec.with_config(few), split.validation, qv, 1.5)
    assert score(few) == pytest.approx(evaluate(rec.with_config(few), small, WeightedFuser(1.0))[0][:, 1].mean())
    assert all(len(e.pool.rows) == 2 for e in small if e.k == 0)


@pytest.mark.slow
def test_real_movielens_users_end_to_end():
    """A handful of real held-out users: CF beats chance and fusion runs (< 1 min)."""
    from pathlib import Path

    from fusion.build import served_encoder
    from fusion.tune import N_TEST, N_VALIDATION, SEED, load_text
    from retrieval.movielens import load_movielens

    catalog, interactions = load_movielens()
    artifacts = Path(__file__).resolve().parent.parent / "artifacts/movielens"
    encoder = served_encoder(artifacts)  # the chat's encoder when `make run` built it, else the base one
    retriever = load_text(catalog, encoder, artifacts / "text")
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


def test_the_ratings_guard_never_reads_a_held_out_users_ratings(hashing_encoder):
    """The dev-replay tuners' guard (fusion/tune.py ratings_guard): CF refitted without the
    test and validation users, the terms built over that CF, scored on the validation
    users; no guard for a log too small to hold users out."""
    from fusion.tune import GUARD_KEEP, N_TEST, N_VALIDATION, SEED, ratings_guard

    catalog = _catalog()
    log = _log(N_TEST + N_VALIDATION + 120, 20)
    retriever = Retriever.build(catalog, hashing_encoder)
    config = PipelineConfig(cf_model="itemknn", n_candidates=20, n_cf_candidates=20)
    fitted = []
    guard = ratings_guard(catalog, log, retriever, config, lambda cf: fitted.append(cf) or [])
    split = split_users(catalog, log, N_TEST, N_VALIDATION, SEED)
    held = [u.user_id for u in split.test + split.validation]
    assert len(fitted) == 1 and not any(fitted[0].knows_user(u) for u in held)
    assert all(fitted[0].knows_user(u) for u in set(split.train.user_ids.tolist()))
    assert guard.keep == GUARD_KEEP and "150 validation users" in guard.name
    assert 0.0 < guard.score(config) <= 1.0
    assert ratings_guard(catalog, _log(30, 20), retriever, config, lambda cf: []) is None


def _comedy_targets() -> tuple[Catalog, Interactions]:
    """30 movies, rows 0, 3, 6, ... comedies, the others thrillers or dramas; each of 12
    users likes 10 non-comedies first, then 6 comedies: every held-out user's request asks
    for comedy alone, and their targets are comedies (the known answer)."""
    from retrieval.facets import MOVIE

    genres = ("Comedy", "Thriller", "Drama")
    catalog = Catalog("thirty", tuple(Item(f"m{r}", f"Movie {r}", item_text(f"Movie {r}", 2000, (genres[r % 3],)),
                                           2000, (genres[r % 3],)) for r in range(30)), kind=MOVIE)
    rng = np.random.default_rng(0)
    comedies = np.arange(0, 30, 3)
    others = np.setdiff1d(np.arange(30), comedies)
    users, rows, ts = [], [], []
    for u in range(12):
        picks = [*rng.choice(others, 10, replace=False), *rng.choice(comedies, 6, replace=False)]
        users += [f"u{u}"] * 16
        rows += picks
        ts += [100 * u + j for j in range(16)]
    return catalog, Interactions(np.array(users, dtype=object), np.array(rows, np.int64),
                                 np.full(len(rows), 5.0, np.float32), np.array(ts, np.int64))


# the config `python -m fusion.tune` would have saved: the replay defaults go over it
TUNED = PipelineConfig(cf_model="itemknn", fuser={"kind": "adaptive", "alpha_inf": 0.3, "n0": 1.0,
                                                  "norm": "minmax", "alpha0": 1.0})


def _served(folder, monkeypatch, encoder) -> tuple[Catalog, Interactions, Recommender]:
    """`_comedy_targets` with TUNED saved in `folder`, built and loaded as `make run` does
    (launch.make_bot; the data and the encoder swapped for the tiny ones; the ratings path,
    --no-dialogues): its recommender."""
    import fusion.build
    import launch
    import retrieval.encoder
    import retrieval.movielens
    from fusion.cf import fingerprints
    from fusion.config import save_config

    catalog, log = _comedy_targets()
    save_config(folder / "fusion", TUNED, fingerprints(catalog, log))
    monkeypatch.setattr(launch, "load_data", lambda args: (catalog, log))
    monkeypatch.setattr(retrieval.movielens, "load_movielens", lambda: (catalog, log))
    monkeypatch.setattr(retrieval.encoder, "TransformerEncoder", lambda path=None, **_: encoder)
    monkeypatch.setattr(fusion.build, "served_encoder", lambda folder, model_dir=None: encoder)  # the benchmark's
    bot, _ = launch.make_bot(launch.parse_args(["--artifacts", str(folder), "--no-finetune", "--no-tune", "--no-dialogues"]))
    return catalog, log, bot.recommender


def test_the_shipped_row_ranks_with_the_pipeline_make_run_serves(tmp_path, monkeypatch, hashing_encoder):
    """benchmarks/coldstart.py's shipped row: the config and terms launch.make_bot serves
    from the same artifacts (CF and the popular prior on the training users only), the
    request's genres wanted in its pools, and the terms change its ranking (replay defaults
    with a strong genres weight, whatever the shipped ones are)."""
    import fusion.config as config_module
    from benchmarks.coldstart import build_manifest_note, shipped_recommender
    from fusion.build import built_pipeline, load_tuned
    from fusion.cf import make_cf
    from fusion.config import TOPIC_WEIGHT, with_replay_defaults
    from fusion.terms import popular_term
    from retrieval.artifacts import jsonable

    monkeypatch.setattr(config_module, "REPLAY_DEFAULTS", {"alpha": 0.4, "entity_weight": 0.6, "fuser": None,
                                                           "weights": {"genres": 0.6, "latest": 0.3, "popular": 0.2}})
    folder = tmp_path / "art"
    catalog, log, served = _served(folder, monkeypatch, hashing_encoder)
    split = split_users(catalog, log, 3, 2)
    cf = make_cf("itemknn", split.train, len(catalog))
    shipped = shipped_recommender(folder, served.retriever, cf, load_tuned(folder / "fusion", catalog, log))
    tuned = TUNED.with_(weights={"topics": TOPIC_WEIGHT, **TUNED.weights})  # topics weigh in every ratings pipeline
    assert shipped.config == served.config == with_replay_defaults(tuned)
    assert shipped.config.fuser is None and shipped.config.weights  # the replay defaults, not the tuned fuser
    assert [(n, type(t)) for n, t in shipped.terms.items()] == [(n, type(t)) for n, t in served.terms.items()]
    assert set(shipped.terms) == {"repeat", "entity", "latest", "genres", "topics", "alike", "popular"}
    assert built_pipeline(folder) == jsonable(shipped.config.to_dict())  # what the build manifest records
    assert build_manifest_note(folder, shipped.config).startswith("the same config")
    # the popular prior counts the training users' ratings, never the held-out ones'
    assert (shipped.terms["popular"].values == popular_term(cf.counts).values).all()
    assert not (shipped.terms["popular"].values == served.terms["popular"].values).all()

    assert all(u.wanted_genres == ("comedy",) and u.request == "Something to watch. Genres: Comedy."
               for u in split.test)
    qv = hashing_encoder.encode([u.request for u in split.test])
    eps = episodes(shipped, split.test, qv, shipped.config.like_weight)
    comedy = np.array([it.genres == ("Comedy",) for it in catalog.items])
    for e in eps:  # the genres term heard the request: 1 for a comedy, 0 for any other
        assert (e.pool.terms["genres"] == comedy[e.pool.rows]).all()
    _, lists = evaluate(shipped, eps, shipped.fuser, shipped.config.mmr_lambda)
    assert all(comedy[top].all() for top in lists)  # every top 10: the 10 comedies
    # the same fuser over text and CF alone lets a thriller or drama in without a history
    plain = Recommender(served.retriever, cf, shipped.config.with_(weights={}, entity_weight=0.0))
    _, plain_lists = evaluate(plain, episodes(plain, split.test, qv, 1.5), shipped.fuser)
    assert not all(comedy[top].all() for top, e in zip(plain_lists, eps) if e.k == 0)


def test_the_benchmark_reports_the_served_config_of_its_shipped_row(tmp_path, monkeypatch, hashing_encoder):
    """`python -m benchmarks.coldstart` end to end on the 30-movie data (3 test and 2
    validation users, a few seconds): the shipped row is scored and the report says which
    config it ran, the one the build served."""
    import json

    import benchmarks.coldstart as bench

    folder = tmp_path / "art"
    _, _, served = _served(folder, monkeypatch, hashing_encoder)
    for name, value in (("N_TEST", 3), ("N_VALIDATION", 2), ("N_BOOT", 20)):
        monkeypatch.setattr(bench, name, value)
    assert bench.main(["--artifacts", str(folder), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "coldstart.json").read_text())
    assert bench.SHIPPED in report["method_order"] and report["shipped"]["row"] == bench.SHIPPED
    assert report["shipped"]["config"] == json.loads(json.dumps(served.config.to_dict()))
    assert report["shipped"]["build_manifest"].startswith("the same config")
    assert report["methods"][bench.SHIPPED]["fuser"] == served.fuser.describe()  # the served fuser
    md = (tmp_path / "out" / "coldstart.md").read_text()
    assert json.dumps(report["shipped"]["config"], sort_keys=True) in md
