"""retrieval/head.py: the full-catalog softmax head on frozen embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.artifacts import StaleArtifactError
from retrieval.head import CatalogHead, HeadConfig, HeadExamples, _flatten, heldout_metric


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def test_untrained_head_ranks_like_the_encoder():
    rng = np.random.default_rng(0)
    items, queries = unit(rng.normal(size=(20, 8))), unit(rng.normal(size=(5, 8)))
    head = CatalogHead.identity(20, 8)
    scores = head.scores(items, queries, [[], [1], [], [2, 3], []])
    # no history effect (B = 0) and no offsets: exactly scale * cosine
    np.testing.assert_allclose(scores, 20.0 * queries @ items.T, atol=1e-5)


def test_head_learns_a_mapping_cosine_cannot_see():
    """Each query sits next to item i but its answer is item (i + 1) % n: the cosine ranks
    the answer nowhere in particular; a trained head must move it to the top."""
    rng = np.random.default_rng(1)
    n, dim = 200, 16  # R@50 of a random ranking is 0.25: room to show learning
    items = unit(rng.normal(size=(n, dim)))

    def examples(count: int, seed: int) -> HeadExamples:
        r = np.random.default_rng(seed)
        src = r.integers(0, n, count)
        q = unit(items[src] + 0.1 * r.normal(size=(count, dim)))
        return HeadExamples(q, [[] for _ in src], [[(int(i) + 1) % n] for i in src])

    train, valid = examples(2000, 2), examples(200, 3)
    head, report = CatalogHead.fit(items, train, valid, HeadConfig(epochs=30, lr=1e-2, l2=0.0, patience=5),
                                   progress=False)
    answers = np.array([t[0] for t in valid.targets])
    before = CatalogHead.identity(n, dim).scores(items, valid.queries, valid.histories).argmax(1)
    assert (before == answers).mean() < 0.05  # the cosine picks the query's own item
    assert report["best_metric"] > report["base_metric"] + 1.0  # log-likelihood per target
    after = head.scores(items, valid.queries, valid.histories).argmax(1)
    assert (after == answers).mean() > 0.8


def test_bias_learns_what_is_always_recommended():
    rng = np.random.default_rng(4)
    items = unit(rng.normal(size=(200, 8)))
    q = unit(rng.normal(size=(300, 8)))
    ex = HeadExamples(q, [[] for _ in q], [[7] for _ in q])
    head, report = CatalogHead.fit(items, ex, ex, HeadConfig(epochs=30, lr=5e-2, batch_size=32, patience=5, l2=0.0), progress=False)
    assert report["best_metric"] > report["base_metric"]
    assert (head.scores(items, q, [[] for _ in q]).argmax(1) == 7).mean() > 0.9


def test_without_heldout_examples_all_epochs_run():
    rng = np.random.default_rng(6)
    items = unit(rng.normal(size=(50, 8)))
    q = unit(rng.normal(size=(64, 8)))
    empty = HeadExamples.empty(8)
    head, report = CatalogHead.fit(items, HeadExamples(q, [[] for _ in q], [[3] for _ in q]), empty,
                                   HeadConfig(epochs=4, lr=5e-2, batch_size=16), progress=False)
    assert report["best_epoch"] == 4
    assert head.bias[3] > 0 and head.bias.argmax() == 3


def test_mask_history_drops_repeated_targets_and_masks_the_rest():
    ex = HeadExamples(np.zeros((2, 4), np.float32), [[1, 2], []], [[2, 3], [0]])
    rows, y, ban = _flatten(ex, mask_history=True, n_items=5)
    assert list(rows) == [0, 1] and list(y) == [3, 0]  # target 2 repeats the history: dropped
    assert ban.toarray().tolist() == [[False, True, True, False, False], [False] * 5]
    rows, y, ban = _flatten(ex, mask_history=False, n_items=5)
    assert list(y) == [2, 3, 0] and ban.nnz == 0


def test_heldout_metric_by_hand():
    """Mean log-likelihood of the targets under the catalog softmax."""
    items = np.eye(4, dtype=np.float32)
    head = CatalogHead.identity(4, 4, scale=2.0)
    q = np.eye(4, dtype=np.float32)[[0, 1]]
    # logits are 2 * cosine: example 0 -> [2, 0, 0, 0], example 1 -> [0, 2, 0, 0]
    log_z = np.log(np.exp(2.0) + 3.0)
    ex = HeadExamples(q, [[], []], [[0], [3]])
    assert heldout_metric(head, items, ex, mask_history=False) == pytest.approx(((2.0 - log_z) + (0.0 - log_z)) / 2)
    # history [0] of example 0: its repeated target 0 is dropped; example 1's history [1]
    # leaves the softmax, so target 3 competes with items 0 and 2 only: log(1/3)
    ex = HeadExamples(q, [[0], [1]], [[0, 2], [3]])
    expected = ((0.0 - np.log(3.0)) + (0.0 - np.log(3.0))) / 2  # example 0: target 2 among 1, 2, 3
    assert heldout_metric(head, items, ex, mask_history=True) == pytest.approx(expected)


def test_save_load_round_trip_and_stale_refusal(tmp_path):
    rng = np.random.default_rng(5)
    head = CatalogHead(*(rng.normal(size=s).astype(np.float32) for s in ((4, 4), (4, 4), (6, 4), (6,))), 15.0)
    head.save(tmp_path / "h", {"data": "abc"}, {"note": "test"})
    back = CatalogHead.load(tmp_path / "h", {"data": "abc"})
    items, q = unit(rng.normal(size=(6, 4))), unit(rng.normal(size=(3, 4)))
    np.testing.assert_array_equal(head.scores(items, q, [[0], [], [1, 2]]), back.scores(items, q, [[0], [], [1, 2]]))
    with pytest.raises(StaleArtifactError):
        CatalogHead.load(tmp_path / "h", {"data": "other"})
    with pytest.raises(ValueError, match="item vectors"):
        back.scores(items[:5], q, [[], [], []])


def test_examples_must_line_up():
    with pytest.raises(ValueError, match="must match"):
        HeadExamples(np.zeros((2, 3), np.float32), [[]], [[0], [1]])


def test_examples_subset_and_concat_keep_rows_together():
    ex = HeadExamples(np.arange(6, dtype=np.float32).reshape(3, 2), [[], [1], [2, 3]], [[0], [4], [5]])
    part = ex.subset([2, 0])
    assert part.queries.tolist() == [[4, 5], [0, 1]]
    assert part.histories == [[2, 3], []] and part.targets == [[5], [0]]
    both = part.concat(ex.subset([1]))
    assert both.queries.tolist() == [[4, 5], [0, 1], [2, 3]]
    assert both.histories == [[2, 3], [], [1]] and both.targets == [[5], [0], [4]]
    assert len(HeadExamples.empty(2).queries) == 0
