"""Every CF model on the checkerboard (two taste groups nobody crosses): one contract test
class reused for each model, plus model-specific known answers and parity checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fusion.cf import CF_FORMAT, History, ItemKNN, Popularity, load_cf, make_cf, stored_model_matches
from fusion.build import load_or_fit_cf
from fusion.config import PipelineConfig
from retrieval.artifacts import StaleArtifactError
from retrieval.records import Interactions

KIDS, DARK = np.arange(0, 6), np.arange(6, 12)
ALL = np.arange(12)
PARAMS = {"ease": {"l2": 1.0, "min_count": 1}, "als": {"factors": 4, "iterations": 10, "alpha": 10.0}}


def liked(*rows: int) -> History:
    return History(np.array(rows, np.int64), np.full(len(rows), 1.5, np.float32))


@pytest.fixture(params=["itemknn", "ease", "als"])
def model(request, tiny_catalog, checkerboard):
    return make_cf(request.param, checkerboard, len(tiny_catalog), **PARAMS.get(request.param, {}))


class TestContract:
    """What the recommender and the bot rely on, for each history-based model."""

    def test_liked_kids_movie_ranks_kids_first(self, model):
        s = model.score(liked(0), ALL)
        assert s.source == "history" and s.scores.dtype == np.float32 and s.scores.shape == (12,)
        assert s.scores[KIDS[1:]].min() > s.scores[DARK].max()

    def test_evidence_is_a_co_rated_history_item_or_none(self, model):
        s = model.score(liked(0, 7), ALL)
        assert set(s.evidence_rows[KIDS[1:]]) == {0}  # the kids like explains kids items
        assert set(s.evidence_rows[np.setdiff1d(DARK, [7])]) == {7}

    def test_evidence_is_minus_one_without_a_common_rater(self, model):
        s = model.score(liked(0), DARK)
        assert (s.evidence_rows == -1).all()

    def test_empty_history_falls_back_to_popularity(self, model):
        s = model.score(History.empty(), ALL)
        assert s.source == "popularity" and (s.evidence_rows == -1).all()

    def test_known_user_history_is_what_they_liked(self, model):
        h = model.user_history("u0")  # u0 rated even rows 5 and odd rows 3 (mean 4)
        assert set(h.item_rows.tolist()) == {0, 2, 4} and (h.weights > 0).all()
        assert model.knows_user("u0") and not model.knows_user("nobody")
        assert len(model.user_history("nobody")) == 0

    def test_dislike_pushes_its_group_down(self, model):
        h = History(np.array([0, 7]), np.array([1.5, -1.0], np.float32))
        s = model.score(h, ALL)
        assert s.scores[np.setdiff1d(DARK, [7])].max() < s.scores[KIDS[1:]].min()

    def test_save_load_round_trip(self, model, tmp_path, tiny_catalog, checkerboard):
        model.save(tmp_path / "cf", tiny_catalog, checkerboard)
        again = load_cf(tmp_path / "cf", tiny_catalog, checkerboard)
        assert type(again) is type(model)
        a, b = model.score(liked(0, 8), ALL), again.score(liked(0, 8), ALL)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(a.evidence_rows, b.evidence_rows)
        assert not list(tmp_path.rglob("*.pkl"))

    def test_load_refuses_other_data(self, model, tmp_path, tiny_catalog, checkerboard):
        model.save(tmp_path / "cf", tiny_catalog, checkerboard)
        other = Interactions(checkerboard.user_ids, checkerboard.item_rows,
                             checkerboard.weights + 1, checkerboard.timestamps)
        with pytest.raises(StaleArtifactError, match="rebuild"):
            load_cf(tmp_path / "cf", tiny_catalog, other)


def test_itemknn_known_similarities(tiny_catalog, checkerboard):
    m = ItemKNN.fit(checkerboard, len(tiny_catalog))
    sim = m.similarity(ALL, ALL)
    assert np.allclose(sim[np.ix_(KIDS, DARK)], 0) and np.allclose(np.diag(sim), 1)
    # rows 0 and 2 have the same rating pattern (5,3,5,3 by u0..u3): cosine 1
    assert sim[0, 2] == pytest.approx(1.0)


def test_ease_matches_the_closed_form(tiny_catalog, checkerboard):
    m = make_cf("ease", checkerboard, 12, l2=1.0, min_count=1)
    X = np.zeros((8, 12))
    for u, r in zip(checkerboard.user_ids, checkerboard.item_rows):
        X[int(u[1:]), r] = 1
    P = np.linalg.inv(X.T @ X + np.eye(12))
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0)
    np.testing.assert_allclose(m.B, B, atol=1e-5)
    assert np.allclose(m.B[np.ix_(KIDS, DARK)], 0)  # block-diagonal Gram: no cross terms
    s = m.score(liked(0), ALL)
    np.testing.assert_allclose(s.scores, 1.5 * B[0], atol=1e-5)


def test_ease_leaves_rare_items_out(tiny_catalog, checkerboard):
    keep = checkerboard.item_rows != 11
    log = Interactions(checkerboard.user_ids[keep], checkerboard.item_rows[keep],
                       checkerboard.weights[keep], checkerboard.timestamps[keep])
    m = make_cf("ease", log, 12, min_count=1)
    assert 11 not in m.kept_rows
    s = m.score(liked(6, 11), ALL)
    assert s.scores[11] == 0 and 11 not in s.evidence_rows


def test_als_fold_in_matches_implicit_recalculate_user(tiny_catalog, checkerboard):
    import implicit.cpu.als

    from fusion.als import ALS, ALSConfig
    from fusion.cf import Ratings

    cfg = ALSConfig(factors=4, iterations=10, alpha=10.0)
    ratings = Ratings.build(checkerboard, 12)
    X = ratings.ui.copy()
    X.data[:] = 1
    ref = implicit.cpu.als.AlternatingLeastSquares(
        factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.alpha,
        iterations=cfg.iterations, random_state=0, use_cg=False)
    ref.fit(X.tocsr(), show_progress=False)
    ours = ALS(ratings, np.asarray(ref.item_factors, np.float32), cfg)
    session = sp.csr_matrix((np.ones(2, np.float32), ([0, 0], [1, 3])), shape=(1, 12))
    want = ref.recalculate_user(0, session)
    got = ours.user_vector(History(np.array([1, 3]), np.ones(2, np.float32)))
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    # and the per-item contributions sum to the score
    s = ours.score(History(np.array([1, 3]), np.ones(2, np.float32)), ALL)
    np.testing.assert_allclose(s.scores, ours.item_factors @ got, rtol=1e-3, atol=1e-4)


def test_popularity_counts_ratings(tiny_catalog, checkerboard):
    log = Interactions(np.append(checkerboard.user_ids, "u9"), np.append(checkerboard.item_rows, 3),
                       np.append(checkerboard.weights, 4.0), np.append(checkerboard.timestamps, 0))
    m = Popularity.fit(log, 12)
    s = m.score(liked(0), ALL)
    assert s.source == "popularity" and int(np.argmax(s.scores)) == 3 and m.counts[3] == 5


def test_factory_rejects_unknown_models(checkerboard):
    with pytest.raises(ValueError, match="itemknn"):
        make_cf("svd", checkerboard, 12)


def test_cf_refits_only_when_the_configured_model_changes(tmp_path, tiny_catalog, checkerboard):
    folder = tmp_path / "cf"
    m1, fitted1 = load_or_fit_cf(folder, PipelineConfig(cf_model="itemknn"), tiny_catalog, checkerboard)
    m2, fitted2 = load_or_fit_cf(folder, PipelineConfig(cf_model="itemknn"), tiny_catalog, checkerboard)
    assert fitted1 and not fitted2 and isinstance(m2, ItemKNN)
    m3, fitted3 = load_or_fit_cf(folder, PipelineConfig(cf_model="ease", cf_params={"l2": 1.0, "min_count": 1}),
                                 tiny_catalog, checkerboard)
    assert fitted3 and m3.name == "ease" and stored_model_matches(folder, "ease", {"l2": 1.0})
    assert not stored_model_matches(folder, "ease", {"l2": 2.0}) and CF_FORMAT == 2


# --- every model, those without history evidence included ------------------------------
@pytest.fixture(params=["itemknn", "ease", "als", "popularity", "none"])
def any_model(request, tiny_catalog, checkerboard):
    log = Interactions.empty() if request.param == "none" else checkerboard
    return make_cf(request.param, log, len(tiny_catalog), **PARAMS.get(request.param, {})), log


class TestEveryModel:
    """The part of the CFModel contract that holds for every model, `NoInteractions` too."""

    def test_scores_are_aligned_float32_with_valid_evidence(self, any_model):
        model, _ = any_model
        for history in (History.empty(), liked(0, 7)):
            s = model.score(history, DARK)
            assert s.scores.dtype == np.float32 and s.scores.shape == (6,) and s.evidence_rows.dtype == np.int64
            assert set(s.evidence_rows.tolist()) <= {-1, 0, 7}
        assert model.counts.shape == (12,) and model.counts.dtype == np.int64

    def test_unknown_users_have_no_history(self, any_model):
        model, _ = any_model
        assert not model.knows_user("nobody") and len(model.user_history("nobody")) == 0

    def test_save_load_round_trip(self, any_model, tmp_path, tiny_catalog):
        model, log = any_model
        model.save(tmp_path / "cf", tiny_catalog, log)
        again = load_cf(tmp_path / "cf", tiny_catalog, log)
        assert type(again) is type(model)
        np.testing.assert_allclose(model.score(liked(0), ALL).scores, again.score(liked(0), ALL).scores,
                                   rtol=1e-5, atol=1e-6)


def test_no_interactions_scores_nothing(tiny_catalog):
    m = make_cf("none", Interactions.empty(), len(tiny_catalog))
    for history in (History.empty(), liked(0, 1, 2)):
        s = m.score(history, ALL)
        assert s.source == "none" and not s.scores.any() and (s.evidence_rows == -1).all()
    assert not m.counts.any()


def test_popularity_needs_the_minimum_count(tiny_catalog, checkerboard):
    """Every checkerboard item has 4 ratings, one short of MIN_POPULARITY_COUNT = 5: no
    item is popular. One more rating for row 3 makes it the only popular one."""
    from fusion.cf import MIN_POPULARITY_COUNT, popular_counts

    assert MIN_POPULARITY_COUNT == 5 and (checkerboard.item_rows == 3).sum() == 4
    m = Popularity.fit(checkerboard, 12)
    assert not m.score(History.empty(), ALL).scores.any() and not popular_counts(m.counts).any()
    log = Interactions(np.append(checkerboard.user_ids, "u9"), np.append(checkerboard.item_rows, 3),
                       np.append(checkerboard.weights, 4.0), np.append(checkerboard.timestamps, 0))
    for model in (Popularity.fit(log, 12), ItemKNN.fit(log, 12)):  # the fallback of every model
        s = model.score(History.empty(), ALL)
        assert s.scores[3] == pytest.approx(1.0) and np.count_nonzero(s.scores) == 1
    np.testing.assert_array_equal(popular_counts(np.array([0, 1, 4, 5, 9])), [0, 0, 0, 5, 9])
