"""A sharded index (retrieval/shards.py) answers exactly what the unsharded one does:
top-k rows and scores, with and without filters, and the same chat turns through the Bot."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.index import FaissIndex, exact_top
from retrieval.shards import ShardedIndex, shard_bounds
from tests.helpers import tiny_bot


def unit_rows(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_bounds_cover_every_row_once():
    assert shard_bounds(301, 3).tolist() == [0, 101, 201, 301]
    assert shard_bounds(3, 3).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="use 1 to 3"):
        shard_bounds(3, 4)


@pytest.mark.parametrize("k", [1, 10, 150])
def test_three_shards_equal_the_unsharded_top_k(k):
    vectors, queries = unit_rows(301), unit_rows(7, seed=1)
    whole, sharded = FaissIndex.build(vectors), ShardedIndex.build(vectors, 3)
    assert [len(s) for s in sharded.shards] == [101, 100, 100] and sharded.exact
    s0, r0 = whole.search(queries, k)
    s1, r1 = sharded.search(queries, k)
    assert r1.shape == (7, k) and np.array_equal(r1, r0)
    np.testing.assert_allclose(s1, s0, rtol=1e-6, atol=1e-6)
    assert np.array_equal(r1, exact_top(vectors, queries, k))  # and both are the brute-force answer


@pytest.mark.parametrize("share", [0.3, 0.02])
def test_filters_cut_into_each_shard_equal_the_unsharded_search(share):
    vectors, queries = unit_rows(301), unit_rows(5, seed=2)
    allowed = np.random.default_rng(3).random(301) < share  # 0.02: fewer rows than k (6 of 301)
    allowed[150:] = False if share < 0.1 else allowed[150:]  # the small filter leaves the third shard empty
    whole, sharded = FaissIndex.build(vectors), ShardedIndex.build(vectors, 3)
    for only in (allowed, np.flatnonzero(allowed)):
        s0, r0 = whole.search(queries, 20, only)
        s1, r1 = sharded.search(queries, 20, only)
        assert np.array_equal(r1, r0)
        assert set(r1[r1 >= 0].tolist()) <= set(np.flatnonzero(allowed).tolist())
        np.testing.assert_allclose(s1[r1 >= 0], s0[r0 >= 0], rtol=1e-6, atol=1e-6)
    if share < 0.1:
        assert (r1 == -1).any() and np.isneginf(s1[r1 == -1]).all()  # padded past the last allowed row


def test_saved_shards_load_to_the_same_answers(tmp_path):
    vectors, queries = unit_rows(120), unit_rows(4, seed=4)
    sharded = ShardedIndex.build(vectors, 3)
    sharded.save(tmp_path / "shards")
    again = ShardedIndex.load(tmp_path / "shards", vectors=vectors)
    assert np.array_equal(again.search(queries, 15)[1], sharded.search(queries, 15)[1])
    assert again.describe()["shard_sizes"] == [40, 40, 40]


def ranked(turn) -> list[tuple[float, frozenset[str]]]:
    """A turn's list as (score, items with that score), best first: FAISS orders equal
    scores as its heap left them, the merge by row, so ties compare as sets."""
    out: list[tuple[float, frozenset[str]]] = []
    for it in turn.items:
        score, item_id = round(it.recommendation.score, 6), it.recommendation.item.item_id
        if out and out[-1][0] == score:
            out[-1] = (score, out[-1][1] | {item_id})
        else:
            out.append((score, frozenset({item_id})))
    return out


def test_the_bot_over_three_shards_answers_as_over_one_index():
    """What the chat calls: the same lists and scores turn by turn (ties as sets)."""
    whole, sharded = tiny_bot(k=3), tiny_bot(k=3)
    retriever = sharded.recommender.retriever
    retriever.index = ShardedIndex.build(retriever.item_vectors, 3)
    sharded.duplicates.index = retriever.index
    s0, s1 = whole.new_session("a"), sharded.new_session("a")
    listed = 0
    for message in ("funny cartoons for kids", "I loved Toy Parade", "no comedy, after 1992", "a dark thriller, any year"):
        t0, t1 = whole.respond(message, s0), sharded.respond(message, s1)
        assert ranked(t1) == ranked(t0)
        if len(ranked(t0)) == len(t0.items):  # no ties: the same order, so the same reply
            assert t1.reply == t0.reply
        listed += len(t0.items)
        s0, s1 = t0.session, t1.session
    assert listed >= 6  # lists to compare, not only "nothing new fits"
