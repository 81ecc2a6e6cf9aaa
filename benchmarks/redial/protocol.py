"""The ReDial protocol around the product's pipeline: splits, samples as queries, metrics.

- Splits: `train.jsonl` is cut, by a seeded hash of the dialogue id, into `fit` (85%:
  every component is fitted on it) and `dev` (15%: every choice is made on it;
  retrieval/dialogue.py `split_dialogues`, the split the MovieLens build tunes on too);
  `valid.jsonl` is touched by no choice and is what the report shows.
- A sample (retrieval/dialogue.py: the context before a recommender turn that names
  movies) becomes the same `Query` the chat builds: the conversation so far, nothing
  liked or disliked (the seekers' questionnaire is filled in after the dialogue, so a
  live system never has it), k = 50.
- Two protocols (Li et al. 2018; Kostric & Balog 2026): `standard` ranks every movie
  and counts every movie the turn names; `new_items` leaves the movies mentioned so far
  out of the candidates (as the chat leaves out what it already showed or heard) and
  counts only the targets new to the dialogue.

Every ranking comes from `Recommender.pool` + `Recommender.scores`: the chat's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fusion.metrics import RankingMetrics, target_rank
from fusion.recommender import Pool, Recommender
from retrieval.dialogue import Sample
from retrieval.records import Query

PROTOCOLS = ("standard", "new_items")
LIST_K = 50  # the longest cutoff reported


def sample_query(sample: Sample, new_items: bool) -> Query:
    return Query(texts=(), context=sample.context, exclude_ids=sample.mentioned_ids if new_items else (), k=LIST_K)


@dataclass
class Scored:
    """Every sample's pool under both protocols (the expensive part, shared by every
    config a tuner tries on the same components)."""

    samples: list[Sample]
    pools: dict[str, list[Pool]]
    # per protocol and sample: each counted target's position in the pool (None: not in it)
    targets: dict[str, list[list[int | None]]]


def build_pools(rec: Recommender, samples: Sequence[Sample], progress: bool = True) -> Scored:
    """Pools of every sample under both protocols; contexts are encoded in batches."""
    from tqdm.auto import tqdm

    queries = {p: [sample_query(s, p == "new_items") for s in samples] for p in PROTOCOLS}
    vectors = rec.embed_queries(queries["standard"], progress)  # the protocols share their texts
    pools = {p: [rec.pool(rec.request(q, vectors)) for q in tqdm(qs, desc=f"pools ({p})", disable=not progress)]
             for p, qs in queries.items()}
    targets: dict[str, list[list[int | None]]] = {}
    for p in PROTOCOLS:
        targets[p] = []
        for sample, pool in zip(samples, pools[p]):
            position = {int(r): j for j, r in enumerate(pool.rows)}
            counted = [t for t in sample.target_ids if p == "standard" or t not in set(sample.mentioned_ids)]
            targets[p].append([position.get(rec.catalog.row(t)) for t in counted])
    return Scored(list(samples), pools, targets)


def evaluate(rec: Recommender, scored: Scored) -> tuple[dict, dict[str, RankingMetrics]]:
    """({protocol: metrics}, {protocol: RankingMetrics}) of `rec`'s config over the pools."""
    miss = len(rec.catalog)  # a target left out of the pool is never listed
    out, acc = {}, {}
    for protocol in PROTOCOLS:
        m = RankingMetrics()
        for sample, pool, positions in zip(scored.samples, scored.pools[protocol], scored.targets[protocol]):
            if not positions:
                continue
            _, _, scores, _ = rec.scores(pool)
            m.add_ranks([miss if j is None else target_rank(scores, j) for j in positions], sample.dialogue_id)
        out[protocol], acc[protocol] = m.result(), m
    return out, acc


def objective(result: dict) -> float:
    """Selection metric: mean of Recall@10 and Recall@50 over both protocols."""
    return float(np.mean([result[p][m] for p in PROTOCOLS for m in ("recall@10", "recall@50")]))
