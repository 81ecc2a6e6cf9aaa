"""MMR and the diversity metrics on vectors whose answer is obvious."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.diversity import catalog_coverage, genre_coverage, intra_list_similarity, novelty
from fusion.mmr import mmr

# items 0-2 are the same vector (near-duplicates), item 3 is orthogonal to them
VECS = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], np.float32)
REL = np.array([1.0, 0.95, 0.9, 0.5])


def test_lambda_one_is_the_relevance_order():
    assert list(mmr(REL, VECS, 3, 1.0)) == [0, 1, 2]


def test_low_lambda_brings_in_the_different_item():
    # rel scaled = [1, .9, .8, 0]; step 2 gains: item1 .5*.9 - .5*1 = -.05, item3 .5*0 - .5*0 = 0
    assert list(mmr(REL, VECS, 2, 0.5)) == [0, 3]
    # with λ = .9 relevance wins: item1 .81 - .1 = .71 > item3 0
    assert list(mmr(REL, VECS, 2, 0.9)) == [0, 1]


def test_mmr_edges():
    assert len(mmr(REL, VECS, 10, 0.5)) == 4 and len(mmr(REL[:0], VECS[:0], 3, 0.5)) == 0
    with pytest.raises(ValueError, match="lambda"):
        mmr(REL, VECS, 2, 1.5)


def test_diversity_metrics_by_hand(tiny_catalog):
    assert intra_list_similarity(np.array([0, 1]), VECS) == pytest.approx(1.0)
    assert intra_list_similarity(np.array([0, 3]), VECS) == pytest.approx(0.0)
    assert intra_list_similarity(np.array([0, 1, 3]), VECS) == pytest.approx(1 / 3)
    # tiny catalog genres: Animation Children Comedy Sci-Fi Crime Thriller Horror Drama Mystery
    assert genre_coverage(np.array([0]), tiny_catalog) == pytest.approx(3 / 9)
    assert genre_coverage(np.array([5, 11]), tiny_catalog) == pytest.approx(6 / 9)
    assert catalog_coverage([np.array([0, 1]), np.array([1, 2])], 12) == pytest.approx(3 / 12)
    counts = np.array([7, 0, 3])
    assert novelty(np.array([0]), counts, 7) == pytest.approx(0.0)  # everyone rated it
    assert novelty(np.array([1, 2]), counts, 7) == pytest.approx((3 + 1) / 2)  # -log2(1/8), -log2(1/2)
