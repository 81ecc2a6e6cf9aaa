"""Fusers against hand-computed tables, and the recommender's pool/order on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.cf import ItemKNN
from fusion.fuse import AdaptiveFuser, RRFFuser, WeightedFuser, fuser_from_dict, minmax, ranks, zscore
from fusion.config import PipelineConfig
from fusion.recommender import Recommender
from fusion.terms import Request
from retrieval.records import Query
from retrieval.retriever import Retriever

TEXT = np.array([0.9, 0.5, 0.1], np.float32)
CF = np.array([0.0, 1.0, 0.5], np.float32)


def test_minmax_weighted_by_hand():
    # t = [1, .5, 0], c = [0, 1, .5]; α = .5 -> [.5, .75, .25]
    p = WeightedFuser(0.5).fuse(TEXT, CF, 0)
    np.testing.assert_allclose(p.fused, [0.5, 0.75, 0.25], atol=1e-6)
    np.testing.assert_allclose(p.fused, p.alpha * p.text + (1 - p.alpha) * p.cf, atol=1e-6)
    assert list(np.argsort(-p.fused)) == [1, 0, 2]


def test_zscore_weighted_by_hand():
    # sd(text) = sqrt(.32/3) = .3266 -> t = [1.2247, 0, -1.2247]; c = [-1.2247, 1.2247, 0]
    p = WeightedFuser(0.5, "zscore").fuse(TEXT, CF, 0)
    np.testing.assert_allclose(p.text, [1.224745, 0, -1.224745], atol=1e-5)
    np.testing.assert_allclose(p.fused, [0.0, 0.612372, -0.612372], atol=1e-5)


def test_rrf_by_hand():
    # text ranks [1,2,3], CF ranks [3,1,2]; parts (k+1)/(k+rank) with k = 60
    p = RRFFuser(0.5, 60).fuse(TEXT, CF, 0)
    want = [0.5 * (1 + 61 / 63), 0.5 * (61 / 62 + 1), 0.5 * (61 / 63 + 61 / 62)]
    np.testing.assert_allclose(p.fused, want, atol=1e-6)
    assert list(np.argsort(-p.fused)) == [1, 0, 2]  # 1/62+1/61 > 1/61+1/63 > 1/63+1/62
    assert list(ranks(np.array([0.2, 0.9, 0.2]))) == [2, 1, 3]


def test_adaptive_alpha_grows_cf_weight_with_evidence():
    f = AdaptiveFuser(alpha_inf=0.2, n0=2.0)
    assert [f.alpha(n) for n in (0, 2, 6)] == pytest.approx([1.0, 0.6, 0.4])
    p0 = f.fuse(TEXT, CF, 0)
    np.testing.assert_allclose(p0.fused, minmax(TEXT))  # no liked items: text only
    p2 = f.fuse(TEXT, CF, 2)  # α = .6 -> [.6, .7, .2]
    np.testing.assert_allclose(p2.fused, [0.6, 0.7, 0.2], atol=1e-6)
    g = AdaptiveFuser(alpha_inf=0.2, n0=2.0, alpha0=0.6)  # α(n) = .2 + .4·2/(2+n)
    assert [g.alpha(n) for n in (0, 2, 6)] == pytest.approx([0.6, 0.4, 0.3])
    h = AdaptiveFuser(alpha_inf=0.4, n0=1.0, alpha0=0.1)  # text gains weight: .4 - .3/(1+n)
    assert [h.alpha(n) for n in (0, 1, 2)] == pytest.approx([0.1, 0.25, 0.3])
    with pytest.raises(ValueError, match="n0"):
        AdaptiveFuser(n0=0)


def test_constant_scores_carry_no_preference():
    assert not minmax(np.ones(4)).any() and not zscore(np.ones(4)).any()


@pytest.mark.parametrize("fuser", [WeightedFuser(0.3, "zscore"), RRFFuser(0.6, 10), AdaptiveFuser(0.1, 5, "minmax", 0.4)])
def test_fusers_round_trip_through_their_description(fuser):
    assert fuser_from_dict(fuser.describe()) == fuser


def test_bad_fuser_settings_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        WeightedFuser(1.5)
    with pytest.raises(ValueError, match="normalisation"):
        WeightedFuser(0.5, "rank")
    with pytest.raises(ValueError, match="adaptive"):
        fuser_from_dict({"kind": "magic"})


def test_pipeline_config_round_trip(tmp_path, tiny_catalog, checkerboard):
    from fusion.build import load_tuned
    from fusion.cf import fingerprints
    from fusion.config import save_config
    from retrieval.artifacts import StaleArtifactError

    s = PipelineConfig(cf_model="ease", cf_params={"l2": 5.0}, fuser=AdaptiveFuser(0.25, 2).describe(),
                       mmr_lambda=0.8, weights={"head": 1.0}, query="context", n_candidates=None)
    assert load_tuned(tmp_path / "fusion", tiny_catalog, checkerboard) is None
    save_config(tmp_path / "fusion", s, fingerprints(tiny_catalog, checkerboard), {"ndcg": 0.1})
    assert load_tuned(tmp_path / "fusion", tiny_catalog, checkerboard) == s
    with pytest.raises(ValueError, match="unknown pipeline config key"):
        PipelineConfig.from_dict({**s.to_dict(), "beta": 1})
    with pytest.raises(ValueError, match="query must be one of"):
        PipelineConfig(query="words")
    (tmp_path / "fusion" / "manifest.json").write_text("{}")
    with pytest.raises(StaleArtifactError, match="rebuild"):
        load_tuned(tmp_path / "fusion", tiny_catalog, checkerboard)


@pytest.fixture
def recommender(tiny_catalog, checkerboard, hashing_encoder):
    retriever = Retriever.build(tiny_catalog, hashing_encoder)
    cf = ItemKNN.fit(checkerboard, len(tiny_catalog))
    return Recommender(retriever, cf, PipelineConfig(n_candidates=2, n_cf_candidates=3,
                                                     fuser=AdaptiveFuser(0.2, 1.0).describe()))


def test_pool_adds_cf_candidates_only_with_a_history(recommender, tiny_catalog):
    q = recommender.retriever.query_vector(["Mafia Night crime"])
    text_only = recommender.pool(Request(q, recommender.history(Query(texts=("x",)))))
    assert len(text_only.rows) == 2 and text_only.cf.source == "popularity"
    h = recommender.history(Query(texts=("x",), liked_ids=("m0",)))
    pool = recommender.pool(Request(q, h, excluded=frozenset({0})))
    assert pool.cf.source == "history" and pool.n_liked == 1
    assert set(pool.rows[2:]) <= set(range(1, 6)) and len(pool.rows) == 5  # 2 text + 3 kids
    np.testing.assert_allclose(pool.similarity,
                               recommender.retriever.item_vectors[pool.rows] @ q, atol=1e-6)


def test_recommend_uses_the_adaptive_fuser_and_an_explicit_alpha_overrides(recommender):
    recs = recommender.recommend(Query(texts=("cartoon",), k=2))
    assert all(r.alpha == 1.0 and r.strategy == "adaptive" for r in recs)  # no likes: text only
    recs = recommender.recommend(Query(texts=("cartoon",), liked_ids=("m1",), k=3))
    assert recs[0].alpha == pytest.approx(0.6) and recs[0].evidence is not None
    assert all(r.score == pytest.approx(r.alpha * r.text + (1 - r.alpha) * r.cf) for r in recs)
    recs = recommender.recommend(Query(texts=("cartoon",), liked_ids=("m1",), k=3, alpha=0.9))
    assert recs[0].alpha == 0.9 and recs[0].strategy == "weighted"


def test_mmr_in_the_recommender_changes_order_not_membership_rules(recommender):
    import dataclasses

    rec = recommender.with_config(dataclasses.replace(recommender.config, n_candidates=12, mmr_lambda=0.3))
    recs = rec.recommend(Query(texts=("cartoon kittens",), k=4))
    assert len({r.item.item_id for r in recs}) == 4 and [r.rank for r in recs] == [1, 2, 3, 4]


def test_dislikes_alone_do_not_pull_items_in(recommender):
    """A dislike with nothing liked has no taste to fold in: the pool stays the text
    top-N and CF is popularity (before, anti-similar items flooded the list)."""
    q = recommender.retriever.query_vector(["Mafia Night crime"])
    h = recommender.history(Query(texts=("x",), disliked_ids=("m9",)))
    pool = recommender.pool(Request(q, h, excluded=frozenset({9})))
    text_only = recommender.pool(Request(q, recommender.history(Query(texts=("x",))), excluded=frozenset({9})))
    assert pool.cf.source == "popularity" and pool.n_liked == 0
    assert pool.rows.tolist() == text_only.rows.tolist()


def test_year_range_and_bans_filter_the_catalog(recommender, tiny_catalog):
    allowed = recommender.allowed_rows(Query(texts=("x",), years=(1990, 1992)))
    assert np.flatnonzero(allowed).tolist() == [6, 7, 8]  # 1990, 1991, 1992
    allowed = recommender.allowed_rows(Query(texts=("x",), years=(None, 1990), banned_terms=("mystery",)))
    assert np.flatnonzero(allowed).tolist() == [6]  # Cold Case (1989) is a mystery
    assert recommender.allowed_rows(Query(texts=("x",))) is None
    recs = recommender.recommend(Query(texts=("cartoon kittens",), years=(1999, None), k=5))
    assert [r.item.item_id for r in recs] and all(r.item.year >= 1999 for r in recs)


def test_genre_first_puts_the_asked_genres_on_top(recommender, tiny_catalog):
    """With genre_first, items with more of the wanted genres rank above the rest whatever
    their scores (a dark query asking for comedy still lists comedies first), the offset is
    a part of its own, and a request without genre words ranks as before."""
    from fusion.terms import GenreTerm

    terms = [GenreTerm([frozenset(g.lower() for g in it.genres) for it in tiny_catalog.items])]
    config = recommender.config.with_(n_candidates=12, genre_first=True)
    rec = Recommender(recommender.retriever, recommender.cf, config, terms)
    recs = rec.recommend(Query(texts=("Mafia Night crime thriller",), wanted_genres=("comedy", "animation"), k=6))
    shares = [len({g.lower() for g in r.item.genres} & {"comedy", "animation"}) / 2 for r in recs]
    assert shares == sorted(shares, reverse=True) and shares[0] == 1.0
    assert all(r.score == pytest.approx(r.alpha * r.text + (1 - r.alpha) * r.cf + sum(r.terms.values()), abs=1e-5)
               for r in recs)
    plain = Query(texts=("Mafia Night crime thriller",), k=6)
    assert [r.item.item_id for r in rec.recommend(plain)] == \
        [r.item.item_id for r in recommender.with_config(config.with_(genre_first=False)).recommend(plain)]
    with pytest.raises(ValueError, match="genres"):
        Recommender(recommender.retriever, recommender.cf, config)  # genre_first without the term


def test_query_texts_are_embedded_once_per_recommender(recommender):
    """A conversation re-sends its earlier turns every turn: each text is encoded once."""
    calls = []
    encoder = recommender.retriever.encoder
    real = encoder.encode
    encoder.encode = lambda texts, *a, **k: (calls.append(list(texts)), real(texts, *a, **k))[1]
    try:
        first = recommender.request(Query(texts=("cartoon kittens",)))
        second = recommender.request(Query(texts=("cartoon kittens", "now darker"), text_weights=(0.3, 1.0)))
    finally:
        encoder.encode = real
    assert calls == [["cartoon kittens"], ["now darker"]]
    np.testing.assert_allclose(first.query_vector, recommender.retriever.query_vector(["cartoon kittens"]), atol=1e-6)
    want = recommender.retriever.query_vector(["cartoon kittens", "now darker"], np.array([0.3, 1.0], np.float32))
    np.testing.assert_allclose(second.query_vector, want, atol=1e-6)


def test_named_items_join_the_query_by_their_index_vectors(recommender):
    """An anchor (a liked, named item) is its vector in the index, weighted beside the
    texts: nothing is encoded for it; an id outside the catalog is left out, and a query
    with neither text nor anchor is refused."""
    calls = []
    encoder = recommender.retriever.encoder
    real = encoder.encode
    encoder.encode = lambda texts, *a, **k: (calls.append(list(texts)), real(texts, *a, **k))[1]
    items = recommender.catalog.items
    vectors = recommender.retriever.item_vectors
    try:
        alone = recommender.request(Query(texts=(), anchor_ids=(items[2].item_id, "not-an-item")))
        mixed = recommender.request(Query(texts=("cartoon kittens",), text_weights=(0.5,),
                                          anchor_ids=(items[1].item_id, items[4].item_id), anchor_weights=(1.0, 0.25)))
    finally:
        encoder.encode = real
    assert calls == [["cartoon kittens"]]
    np.testing.assert_allclose(alone.query_vector, vectors[2], atol=1e-6)
    text = recommender.retriever.query_vector(["cartoon kittens"])
    want = 0.5 * text + 1.0 * vectors[1] + 0.25 * vectors[4]
    np.testing.assert_allclose(mixed.query_vector, want / np.linalg.norm(want), atol=1e-6)
    with pytest.raises(ValueError, match="a text or an item"):
        recommender.request(Query(texts=(), anchor_ids=("not-an-item",)))
