"""Item-item similarity from catalog metadata: shared people (facts) and shared title words.

Both describe a candidate by its closeness to the movies mentioned so far, for the
second stage (fusion/rerank.py): a movie by the director or with the cast of one the
seeker named, or a sequel ("Shrek Forever After" after "Shrek"), even when no training
dialogue ever recommended it. Strings in, similarity rows out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

# Words a title shares with too many others to mean "same series".
TITLE_STOP = frozenset("the a an of and in on to for with at by from part is i ii iii 2 3 4".split())


def title_words(title: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9']+", title.lower()) if w not in TITLE_STOP)


class TitleWords:
    """overlap(c, h) = idf mass of the words c's title shares with h's / idf mass of c's words."""

    def __init__(self, titles: Sequence[str]) -> None:
        self.words = [title_words(t) for t in titles]
        df = Counter(w for ws in self.words for w in ws)
        self.idf = {w: math.log(len(titles) / c) for w, c in df.items()}
        self.mass = np.array([sum(self.idf[w] for w in ws) for ws in self.words], np.float32)

    def max_overlap(self, candidates: Sequence[int], history: Sequence[int]) -> np.ndarray:
        """float32 (len(candidates),): the best overlap of each candidate with a history row."""
        out = np.zeros(len(candidates), np.float32)
        if not len(history):
            return out
        for j, c in enumerate(candidates):
            if self.mass[c] > 0:
                shared = max(sum(self.idf[w] for w in self.words[c] & self.words[h]) for h in history)
                out[j] = shared / self.mass[c]
        return out


class FactSimilarity:
    """TF-IDF cosine over fact tokens ("director=Christopher_Nolan"); items with no facts
    are similar to nothing."""

    def __init__(self, fact_tokens: Sequence[Sequence[str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        docs = [" ".join(tokens) for tokens in fact_tokens]
        if any(docs):
            vec = TfidfVectorizer(token_pattern=r"\S+", lowercase=True, sublinear_tf=True)
            self.matrix = normalize(vec.fit_transform(docs)).tocsr().astype(np.float32)
        else:
            import scipy.sparse as sp

            self.matrix = sp.csr_matrix((len(docs), 1), dtype=np.float32)

    def max_similarity(self, candidates: Sequence[int], history: Sequence[int]) -> np.ndarray:
        """float32 (len(candidates),): each candidate's best cosine to a history row."""
        if not len(history) or not len(candidates):
            return np.zeros(len(candidates), np.float32)
        sims = (self.matrix[list(candidates)] @ self.matrix[list(history)].T).toarray()
        return sims.max(1).astype(np.float32)
