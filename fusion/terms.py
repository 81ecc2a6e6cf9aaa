"""Scoring terms beside text similarity and CF, behind one interface.

A `Request` is one ranking request as the pipeline's components see it: vectors and
catalog rows, no words. A `Term` scores candidate rows for a request and may name, per
candidate, the catalog row that earned the score (`evidence`), so a reason can cite it.
The pipeline (fusion/recommender.py) adds `weight * normalise(term, term.norm)` for
each weighted term after the text/CF fusion, and hands every term to the second stage.

- `PriorTerm`: a fixed per-item value (how often training recommenders named it; how
  often it was mentioned at all), already in [0, 1].
- `HeadTerm`: the catalog head (retrieval/head.py) over the query and the mentioned items.
- `CoOccurTerm`: co-occurrence CF (fusion/cooccur.py) folded in from the request's
  history, e.g. movies liked together by MovieLens raters linked to this catalog.
- `RepeatTerm`: how recently an item was mentioned in this conversation.
- `EntityTerm`: text similarity to the items mentioned so far (their mean vector).
- `NeighboursTerm`: what recommenders named after the nearest training contexts.
- `LatestTerm`: text similarity to the latest turn alone.
- `GenreTerm`: the share of the genres the current request asks for ("something funny"
  -> Comedy) that the item has; a conversation embedded whole hears a late "now
  something funny" only faintly, this term hears it.
- `TopicTerm`: the share of the topics the current request asks for ("a heist movie" ->
  heist) that the item carries in its topic facet (retrieval/facets.py TOPIC_FACET).
- `AlikeTerm`: what an item shares with the liked items, in the catalog's own content
  (genres and people), where the encoder and CF of a small ratings log mostly hear the
  release year ("I loved Heat" -> 1995's blockbusters).

Knows nothing of chat, files or how the components were trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fusion.cf import History
from fusion.cooccur import CoOccurrence
from fusion.neighbours import ContextNeighbours
from retrieval.facets import TOPIC_FACET
from retrieval.head import CatalogHead

# The repeat term: an item mentioned t turns ago scores REPEAT_DECAY ** t, halved when
# only the seeker named it (recommenders come back to their own suggestions).
REPEAT_DECAY, SEEKER_MENTION = 0.8, 0.5


@dataclass(frozen=True)
class Request:
    """What the pipeline's components read for one ranking request."""

    query_vector: np.ndarray  # float32 (dim,), unit: the conversation as the encoder reads it
    history: History = field(default_factory=History.empty)  # CF evidence, signed weights
    mentioned_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # first mention first
    repeat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (len(mentioned_rows),)
    latest_vector: np.ndarray | None = None  # float32 (dim,): the latest turn alone (None: the query's)
    excluded: frozenset[int] = frozenset()  # rows never listed (shown, liked, disliked, ...)
    allowed: np.ndarray | None = None  # bool (n_items,) filter mask, None = every item
    wanted_genres: tuple[str, ...] = ()  # lower-case genres the current request asks for
    wanted_topics: tuple[str, ...] = ()  # lower-case topics (what items are about) it asks for


class Term(Protocol):
    name: str
    norm: str  # "minmax" (scale varies per request) or "raw" (already in [0, 1])

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows),)."""
        ...

    def evidence(self, request: Request, rows: np.ndarray) -> np.ndarray | None:
        """int64 (len(rows),): the catalog row behind each score (-1: none), or None when
        the term has no such evidence."""
        ...


class _NoEvidence:
    def evidence(self, request: Request, rows: np.ndarray) -> np.ndarray | None:
        return None


class PriorTerm(_NoEvidence):
    norm = "raw"

    def __init__(self, name: str, values: np.ndarray, counts: np.ndarray | None = None) -> None:
        self.name = name
        self.values = np.asarray(values, np.float32)  # (n_items,) in [0, 1]
        self.counts = counts  # int64 (n_items,): the raw counts behind values, for reasons

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        return self.values[rows]


class HeadTerm(_NoEvidence):
    name, norm = "head", "minmax"

    def __init__(self, head: CatalogHead, item_vectors: np.ndarray) -> None:
        self.head, self.item_vectors = head, item_vectors

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        all_items = self.head.scores(self.item_vectors, request.query_vector[None, :],
                                     [request.mentioned_rows.tolist()])[0]
        return all_items[rows]


class CoOccurTerm:
    norm = "minmax"

    def __init__(self, name: str, model: CoOccurrence) -> None:
        self.name, self.model = name, model

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        h = request.history
        return self.model.score_all(h.item_rows, h.weights)[rows]

    def evidence(self, request: Request, rows: np.ndarray) -> np.ndarray | None:
        return self.model.evidence(request.history.item_rows, request.history.weights, rows)


def dot_rows(matrix: np.ndarray, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """float32 (len(rows),) = matrix[rows] @ vector; when the rows are most of the catalog,
    one product over every row is cheaper than copying them out first."""
    if len(rows) * 4 > len(matrix):
        return (matrix @ vector).astype(np.float32)[rows]
    return (matrix[rows] @ vector).astype(np.float32)


class RepeatTerm(_NoEvidence):
    name, norm = "repeat", "raw"

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        out = np.zeros(len(rows), np.float32)
        mentioned = np.asarray(request.mentioned_rows, np.int64)
        if len(mentioned) == 0 or len(rows) == 0:
            return out
        order = np.argsort(mentioned, kind="stable")
        ranked = mentioned[order]
        pos = np.minimum(np.searchsorted(ranked, rows), len(ranked) - 1)
        hit = ranked[pos] == rows
        out[hit] = np.asarray(request.repeat, np.float32)[order][pos[hit]]
        return out



class EntityTerm(_NoEvidence):
    name, norm = "entity", "raw"

    def __init__(self, item_vectors: np.ndarray) -> None:
        self.item_vectors = item_vectors

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        if len(request.mentioned_rows) == 0:
            return np.zeros(len(rows), np.float32)
        mean = self.item_vectors[request.mentioned_rows].mean(0)
        return dot_rows(self.item_vectors, mean, rows)


class NeighboursTerm(_NoEvidence):
    name, norm = "neighbours", "minmax"

    def __init__(self, neighbours: ContextNeighbours, k: int) -> None:
        self.neighbours, self.k = neighbours, k

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        return self.neighbours.scores(request.query_vector[None, :], self.k)[0][rows]


class LatestTerm(_NoEvidence):
    name, norm = "latest", "minmax"

    def __init__(self, item_vectors: np.ndarray) -> None:
        self.item_vectors = item_vectors

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        v = request.latest_vector if request.latest_vector is not None else request.query_vector
        return dot_rows(self.item_vectors, v, rows)


class GenreTerm(_NoEvidence):
    name, norm = "genres", "raw"

    def __init__(self, item_genres: "list[frozenset[str]]") -> None:  # per catalog row: its lower-case genres
        names = sorted({g for gs in item_genres for g in gs})
        self.column = {g: j for j, g in enumerate(names)}
        self.has = np.zeros((len(item_genres), len(names)), np.float32)  # row x genre: 1 if it has it
        for r, gs in enumerate(item_genres):
            self.has[r, [self.column[g] for g in gs]] = 1.0

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        wanted = set(request.wanted_genres)
        if not wanted:
            return np.zeros(len(rows), np.float32)
        cols = [self.column[g] for g in wanted if g in self.column]  # a genre no item has counts 0
        if not cols:
            return np.zeros(len(rows), np.float32)
        return (self.has[:, cols].sum(1)[rows] / np.float32(len(wanted))).astype(np.float32)


# Near topics. A near topic is the asked-for topic made more specific: a topic of the
# catalog with every word of it, each as itself or a word of its family, and at most
# NEAR_EXTRA_WORDS words more ("boxing" -> "boxer", "boxing match", "female boxer"; not
# "reference to pandora's box"). Two words are of one family when they are one word less a
# plural ending ("dogs", "dog") or share a stem ("boxing", "boxer": box) AND the catalog
# tags the same items with both: FAMILY_OVERLAP of the items carrying the rarer one carry
# the other too. Measured on the MovieLens keywords: "boxer" and "boxing" share .55 of
# their items, "prison" and "prisoner" .32, "spy" and "spying" .33, while "box" and
# "boxing", "train" and "training", "fall" and "falling", "east" and "easter" share none
# (82% of the catalog's 491 pairs of words of one stem share no item); keywords 3+ words
# longer than the topic are the least like it by the encoder's own similarity (0.58 on
# average, against 0.69 for the near topics kept). The encoder is no judge at run time: it
# parts "box" from "boxing" as this rule does, at 50-250 ms a topic, and finds "loan shark"
# (0.66) and "hot dog" (0.72) as near as "killer shark" (0.78) and "pet dog" (0.85).
SUFFIXES = ("ings", "ers", "ing", "ies", "er", "es", "ed", "s", "")  # longest first
MIN_STEM = 3
NEAR_CREDIT = 0.5  # an item carrying only a near topic ("boxer", "boxing match" for "boxing")
FAMILY_OVERLAP = 0.2
NEAR_EXTRA_WORDS = 2
NEAR_CACHE = 4096  # asked-for topics whose near topics are kept


def stem(word: str) -> str:
    """"boxing" -> "box", "boxers" -> "box", "heist" -> "heist": a word less one ending."""
    for suffix in SUFFIXES[:-1]:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[:-len(suffix)]
    return word


def singular(word: str, words: "frozenset[str] | set[str]" = frozenset()) -> str:
    """The word less a plural ending: "dogs" -> dog, "boxes" -> box, "stories" -> story;
    "zombies" -> zombie where `words` (the vocabulary) has "zombie" and not "zomby"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-1] if word[:-1] in words and word[:-3] + "y" not in words else word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")) or (word.endswith("oes") and word[:-2] in words):
        return word[:-2]  # "heroes" -> hero where the vocabulary has "hero" ("shoes" -> shoe)
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class TopicTerm(_NoEvidence):
    """Per asked-for topic, 1 for an item carrying it and NEAR_CREDIT for one carrying only a
    near topic (`near_topics`: "boxer", "boxing match" for "boxing"; the catalog tags 4 films
    "boxing" and 27 "boxer"); the mean over the asked-for topics."""

    name, norm = "topics", "raw"

    def __init__(self, item_topics: "list[frozenset[str]]") -> None:  # per catalog row: its lower-case topics
        self.column: dict[str, int] = {}  # topic -> its column, filled by _membership
        # (n_items, n_topics), a few per item; by column: a request reads a topic or two
        self.by_topic = _membership(item_topics, self.column).tocsc()
        vocabulary = {w for topic in self.column for w in topic.split()}
        self.words: list[frozenset[str]] = [frozenset()] * len(self.column)  # column -> its words, singular
        self.length: list[int] = [0] * len(self.column)  # column -> how many words
        self.by_word: dict[str, list[int]] = {}  # singular word -> columns of the topics with it
        self.by_stem: dict[str, set[str]] = {}  # stem -> the singular words of that stem
        for topic, j in self.column.items():
            words = topic.split()
            self.words[j], self.length[j] = frozenset(singular(w, vocabulary) for w in words), len(words)
            for w in self.words[j]:
                self.by_word.setdefault(w, []).append(j)
                self.by_stem.setdefault(stem(w), set()).add(w)
        self.vocabulary = frozenset(vocabulary)
        self.names = list(self.column)  # column -> topic
        self._families: dict[str, frozenset[str]] = {}
        self._near: dict[str, list[int]] = {}

    def _items(self, word: str) -> np.ndarray:
        """Rows of the items carrying a topic with `word` (singular)."""
        return np.unique(self.by_topic[:, self.by_word.get(word, [])].indices)

    def family(self, word: str) -> frozenset[str]:
        """The singular words of `word`'s family in this catalog: itself, and the words of its
        stem that tag FAMILY_OVERLAP of the same items ("boxing" -> boxer; not box)."""
        word = singular(word, self.vocabulary)
        kin = self._families.get(word)
        if kin is None:
            others = self.by_stem.get(stem(word), set()) - {word}
            own = self._items(word) if others else np.zeros(0, np.int64)
            same = {word}
            for other in others:
                theirs = self._items(other)
                rarer = min(len(own), len(theirs))
                if rarer and len(np.intersect1d(own, theirs, assume_unique=True)) >= FAMILY_OVERLAP * rarer:
                    same.add(other)
            kin = self._families[word] = frozenset(same)
        return kin

    def near(self, topic: str) -> list[int]:
        """Columns of the topics near `topic` (not itself): each of its words or one of their
        family, at most NEAR_EXTRA_WORDS words more."""
        found = self._near.get(topic)
        if found is None:
            words = topic.split()
            families = [self.family(w) for w in words]
            own = self.column.get(topic)
            some = sorted({j for w in families[-1] for j in self.by_word.get(w, ())}) if words else []
            found = [j for j in some if j != own and self.length[j] <= len(words) + NEAR_EXTRA_WORDS
                     and all(f & self.words[j] for f in families)]
            if len(self._near) >= NEAR_CACHE:
                self._near.clear()
            self._near[topic] = found
        return found

    def near_topics(self, topic: str) -> frozenset[str]:
        """The topics near `topic`, as the catalog spells them (lower case): what a reason may
        name for an item that earned the near credit."""
        return frozenset(self.names[j] for j in self.near(topic.lower()))

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        wanted = list(dict.fromkeys(request.wanted_topics))
        total = np.zeros(len(rows), np.float32)
        for topic in wanted:
            exact = self.column.get(topic)
            has = (np.asarray(self.by_topic[:, [exact]].sum(1)).ravel()[rows] > 0) if exact is not None else False
            near = self.near(topic)
            close = (np.asarray(self.by_topic[:, near].sum(1)).ravel()[rows] > 0) if near else False
            total += np.where(has, 1.0, np.where(close, NEAR_CREDIT, 0.0)).astype(np.float32)
        return total / np.float32(max(len(wanted), 1))


class AlikeTerm(_NoEvidence):
    """The mean, over the request's liked items (history rows weighted > 0), of half the
    genre overlap (Jaccard) plus half of "shares a person" (any role: director, cast,
    writer, author...) between a candidate and that liked item; in [0, 1], 0 without a
    liked item. Reasons cite shared people themselves (bot/conversation/justify.py), never a genre the
    person did not ask for."""

    name, norm = "alike", "raw"

    def __init__(self, genres: GenreTerm, item_people: "list[frozenset[str]]") -> None:
        self.genres = genres.has  # the genres term's row x genre matrix, not a second copy
        self.genre_counts = self.genres.sum(1).astype(np.float32)
        self.people = _membership(item_people)

    def score(self, request: Request, rows: np.ndarray) -> np.ndarray:
        h = request.history
        liked = np.asarray(h.item_rows, np.int64)[np.asarray(h.weights) > 0]
        if len(liked) == 0 or len(rows) == 0:
            return np.zeros(len(rows), np.float32)
        liked = np.unique(liked)
        shared = self.genres[rows] @ self.genres[liked].T  # (n, liked) genres in common
        union = self.genre_counts[rows][:, None] + self.genre_counts[liked][None, :] - shared
        jaccard = np.divide(shared, union, out=np.zeros_like(shared, dtype=np.float32), where=union > 0)
        person = (self.people[rows] @ self.people[liked].T).toarray() > 0
        return ((jaccard + person) / 2).mean(1).astype(np.float32)


def _membership(sets: "list[frozenset[str]]", column: "dict[str, int] | None" = None):
    """CSR float32 (n_items, n_names): 1 where the item has the name (people: thousands of
    names, a few per item); `column`, when given, is filled with name -> column."""
    from scipy import sparse

    column = {} if column is None else column
    indptr, indices = [0], []
    for names in sets:
        indices.extend(column.setdefault(n, len(column)) for n in sorted(names))
        indptr.append(len(indices))
    data = np.ones(len(indices), np.float32)
    return sparse.csr_matrix((data, np.array(indices, np.int64), np.array(indptr, np.int64)),
                             shape=(len(sets), max(len(column), 1)))


def request_terms(catalog, item_vectors: np.ndarray) -> list:
    """The terms that read only the request, so any catalog has them: items named again
    (repeat), closeness to the items mentioned (entity) and to the latest turn (latest),
    the share of the asked-for genres (genres) and topics (topics), content shared with the
    liked items (alike)."""
    genres = GenreTerm([frozenset(g.lower() for g in it.genres) for it in catalog.items])
    topics = TopicTerm([frozenset(t.lower() for t in it.facets.categories.get(TOPIC_FACET, ())) for it in catalog.items])
    return [RepeatTerm(), EntityTerm(item_vectors), LatestTerm(item_vectors), genres, topics,
            AlikeTerm(genres, [frozenset(n.casefold() for n in it.facets.names()) for it in catalog.items])]


def popular_term(counts: np.ndarray) -> PriorTerm:
    """The "popular" prior: each item's interaction count, log-damped into [0, 1] as CF's
    own popularity fallback does (fusion/cf.py popularity_scores); counts under
    MIN_POPULARITY_COUNT are 0, so a reason never calls a rarely rated item popular."""
    from fusion.cf import popular_counts, popularity_scores

    return PriorTerm("popular", popularity_scores(counts), popular_counts(counts))
