"""The ReDial second stage's inputs: each sample's candidate pool and its feature rows.

A pool (fusion/rerank.py: pool_rows) holds the first stage's top N_FIRST, the top
N_EXTRA of the head, of the nearest training contexts, of the latest turn's text and of
the corpus mention prior (each leaving out the movies mentioned so far), and the movies
mentioned so far (the standard protocol may repeat them). Each candidate is described by
FEATURES; none reads the seekers' questionnaire (filled in after the dialogue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from fusion.fuse import minmax
from fusion.itemsim import FactSimilarity, TitleWords
from fusion.rerank import Pool, pool_rows

if TYPE_CHECKING:
    from fusion.evaluate import Prepared

N_FIRST, N_EXTRA = 300, 50
K_NEIGHBOURS = 50  # training contexts that vote in fusion.neighbours
FEATURES = (
    "first_rank",  # place in the pool, ordered by the first stage
    "first",  # first-stage score, row-wise min-max (as are the next eight)
    "text", "entity", "head", "cf", "ratings", "neighbours",
    "latest",  # cosine of the latest turn alone with the item
    "repeat",  # recency of an earlier mention (fusion.evaluate.repeat_scores)
    "mentioned",  # 1 when mentioned earlier in the dialogue
    "recommended",  # popularity prior: how often training recommenders named it
    "mentions",  # corpus mention prior (mention_prior)
    "n_mentioned",  # movies mentioned so far in the dialogue
    "facts",  # best DBpedia-facts cosine to a movie mentioned so far
    "title",  # best title-word overlap with a movie mentioned so far
)


@dataclass
class Signals:
    """Everything but Prepared that the pools read, for one set of samples."""

    first: np.ndarray  # (n, n_items) fused first-stage scores
    cf: np.ndarray  # (n, n_items)
    ratings: np.ndarray  # (n, n_items)
    neighbours: np.ndarray  # (n, n_items)
    latest: np.ndarray  # (n, n_items)
    recommended: np.ndarray  # (n_items,)
    mentions: np.ndarray  # (n_items,)
    facts: FactSimilarity
    titles: TitleWords


def mention_prior(catalog, counted: Iterable[Mapping[str, int]]) -> np.ndarray:
    """float32 (n_items,) in [0, 1]: log(1 + the catalog's corpus-wide mention count,
    `nbMentions`, less the mentions in the `counted` dialogues), scaled by its maximum.

    nbMentions counts every ReDial dialogue, the evaluated ones included: their own
    mentions are taken out, so no sample sees its answers counted."""
    counts = np.array([float(item.fields.get("mentions", 0) or 0) for item in catalog.items])
    for dialogue in counted:
        for movie_id, n in dialogue.items():
            if movie_id in catalog:
                counts[catalog.row(movie_id)] -= n
    logc = np.log1p(np.maximum(counts, 0.0))
    return (logc / max(float(logc.max()), 1e-12)).astype(np.float32)


def build_pools(prep: "Prepared", sig: Signals) -> list[Pool]:
    """One Pool per sample of `prep`, with FEATURES in order."""
    if prep.head is None or prep.entity is None or prep.repeat is None:
        raise ValueError("the second stage needs Prepared.head, .entity and .repeat")
    pools = []
    for i, sample in enumerate(prep.samples):
        earlier = prep.earlier_rows[i]
        extras = (prep.head[i], sig.neighbours[i], sig.latest[i], sig.mentions)
        rows = pool_rows(sig.first[i], extras, earlier, earlier, N_FIRST, N_EXTRA)
        scaled = [minmax(m[i])[rows] for m in (sig.first, prep.text, prep.entity, prep.head, sig.cf,
                                                    sig.ratings, sig.neighbours, sig.latest)]
        columns = [np.arange(len(rows), dtype=np.float32), *scaled, prep.repeat[i, rows],
                   np.isin(rows, earlier).astype(np.float32), sig.recommended[rows], sig.mentions[rows],
                   np.full(len(rows), len(sample.mentioned_ids), np.float32),
                   sig.facts.max_similarity(rows, earlier), sig.titles.max_overlap(rows, earlier)]
        pools.append(Pool(rows, np.stack(columns, 1).astype(np.float32)))
    return pools
