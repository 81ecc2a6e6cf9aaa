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
