"""fusion/terms.py fast paths against the straightforward per-row loops they replaced (random cases)."""

import numpy as np

from fusion.terms import GenreTerm, RepeatTerm, Request, dot_rows


def test_fast_terms_equal_the_loops():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 50))
        rows = rng.permutation(n)[: rng.integers(0, n + 1)].astype(np.int64)
        m = rng.permutation(n)[: rng.integers(0, n + 1)]
        rep = rng.random(len(m)).astype(np.float32)
        req = Request(np.zeros(3, np.float32), mentioned_rows=m.astype(np.int64), repeat=rep)
        value = dict(zip(m.tolist(), rep.tolist()))
        loop = np.array([value.get(r, 0.0) for r in rows.tolist()], np.float32)
        assert np.array_equal(RepeatTerm().score(req, rows), loop)
        genres = [frozenset(rng.choice(["a", "b", "c", "d"], rng.integers(0, 3), replace=False)) for _ in range(n)]
        wanted = tuple(rng.choice(["a", "b", "x"], rng.integers(1, 3), replace=False))  # "x": no item has it
        req = Request(np.zeros(3, np.float32), wanted_genres=wanted)
        loop = np.array([len(genres[r] & set(wanted)) / len(set(wanted)) for r in rows.tolist()], np.float32)
        assert np.allclose(GenreTerm(genres).score(req, rows), loop)
        matrix, v = rng.random((n, 4)).astype(np.float32), rng.random(4).astype(np.float32)
        assert np.allclose(dot_rows(matrix, v, rows), matrix[rows] @ v, atol=1e-6)


def test_alike_scores_what_a_candidate_shares_with_the_liked_items():
    """Half genre Jaccard, half "shares a person", averaged over the liked items; dislikes
    and an empty history score nothing (known answers, then the loop on random cases)."""
    from fusion.cf import History
    from fusion.terms import AlikeTerm

    genres = [frozenset({"action", "crime"}), frozenset({"action", "crime"}), frozenset({"crime", "drama"}),
              frozenset({"comedy"}), frozenset()]
    people = [frozenset({"michael mann", "al pacino"}), frozenset({"al pacino"}), frozenset(), frozenset(),
              frozenset({"michael mann"})]
    term = AlikeTerm(GenreTerm(genres), people)
    rows = np.arange(5, dtype=np.int64)
    heat = Request(np.zeros(3, np.float32), History(np.array([0]), np.array([1.5], np.float32)))
    assert np.allclose(term.score(heat, rows), [1.0, 1.0, 1 / 6, 0.0, 0.5])
    both = Request(np.zeros(3, np.float32), History(np.array([0, 3, 2]), np.array([1.5, 1.5, -1.0], np.float32)))
    assert np.allclose(term.score(both, rows), [0.5, 0.5, 1 / 12, 0.25, 0.25])  # the dislike (row 2) is not a taste
    assert not term.score(Request(np.zeros(3, np.float32)), rows).any()
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(1, 30))
        gs = [frozenset(rng.choice(list("abcd"), rng.integers(0, 4), replace=False)) for _ in range(n)]
        ps = [frozenset(rng.choice(list("pqrs"), rng.integers(0, 3), replace=False)) for _ in range(n)]
        liked = np.unique(rng.integers(0, n, rng.integers(1, 4)))
        req = Request(np.zeros(3, np.float32), History(liked, np.ones(len(liked), np.float32)))
        loop = [np.mean([(len(gs[r] & gs[l]) / len(gs[r] | gs[l]) if gs[r] | gs[l] else 0.0) / 2
                         + (0.5 if ps[r] & ps[l] else 0.0) for l in liked]) for r in range(n)]
        assert np.allclose(AlikeTerm(GenreTerm(gs), ps).score(req, np.arange(n)), loop, atol=1e-6)
