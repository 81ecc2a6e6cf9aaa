"""Items liked together in the bot's own logged chats, served as the weighted term "logbook".

`python -m bot.offline.learn` fits the co-occurrence of the items each logged session liked
(fusion/learn.py `session_baskets`) into `<folder>/learned/cooccur/`. Here it becomes a
`CoOccurTerm` named LOGBOOK: its score folds in the request's history (the likes of this
chat, and a known person's rated items), its evidence is the liked item that earned it,
which bot/conversation/justify.py cites ("people who liked X in earlier chats here also liked it").

Its weight is chosen, not guessed (`choose_weight`): on held-out logged sessions, each
like after a session's first is ranked from the session's messages up to it and the likes
before it (`next_like_cases`); the weights of WEIGHT_GRID are compared on NDCG@10 of those
likes and the smallest of the best is kept. 0 is in the grid, so the chosen weight never
scores below the pipeline without the term on those sessions.

What this module does NOT know: the logbook's format, consent, how the baskets are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fusion.coldstart import ranking_metrics
from fusion.cooccur import CoOccurrence
from fusion.recommender import Recommender
from fusion.terms import CoOccurTerm
from retrieval.records import Catalog, LoggedSession, Query

LOGBOOK = "logbook"  # the term's name in PipelineConfig.weights and in reasons
COOCCUR_DIR = "cooccur"  # <folder>/learned/cooccur/
# The term is min-max normalised per request to [0, 1], as the text and CF parts are
# before the fuser weighs them (their weights sum to 1): 1.0 lets it count as much as
# both together; above that it would drown them. 0: off.
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)


def load_logbook_term(folder: Path, catalog: Catalog) -> CoOccurTerm | None:
    """The "logbook" term of an artifact folder written by `python -m bot.offline.learn` (None when
    it has no learned co-occurrence); StaleArtifactError when fitted for another catalog."""
    from fusion.logged import LEARNED_DIR

    part = Path(folder) / LEARNED_DIR / COOCCUR_DIR
    if not (part / "manifest.json").exists():
        return None
    return CoOccurTerm(LOGBOOK, CoOccurrence.load(part, {"catalog": catalog.fingerprint()}))


def chosen_weight(folder: Path) -> float:
    """The weight `python -m bot.offline.learn` chose for the term, as recorded beside the pipeline
    config in `<folder>/fusion/` (0 when none was): for a text-only catalog, whose build
    reads no tuned config."""
    from retrieval.artifacts import read_manifest

    part = Path(folder) / "fusion"
    if not (part / "manifest.json").exists():
        return 0.0
    return float((read_manifest(part).get("config", {}).get(LOGBOOK) or {}).get("weight", 0.0))


def with_logbook(rec: Recommender, term: CoOccurTerm, weight: float) -> Recommender:
    """`rec` with `term` (replacing an earlier "logbook" term) weighted `weight`."""
    terms = [t for name, t in rec.terms.items() if name != LOGBOOK] + [term]
    config = rec.config.with_(weights={**dict(rec.config.weights), LOGBOOK: float(weight)})
    return Recommender(rec.retriever, rec.cf, config, terms, rec.second_stage)


@dataclass(frozen=True)
class Case:
    """One held-out like: the query just before it and the liked row."""

    query: Query
    target_row: int


def next_like_cases(sessions: Sequence[LoggedSession], catalog: Catalog,
                    knows: Callable[[str], bool] | None = None, cutoff: int = 10) -> list[Case]:
    """Every like after the first of each session (likes in turn order; items outside the
    catalog skipped): the session's non-empty messages up to the like's turn, its earlier
    likes as liked, its dislikes up to that turn as disliked, and its taste key as the user
    when `knows` says CF knows it (e.g. `cf.knows_user`: a person learned from other sessions). The first like has no earlier like to
    fold in: the term cannot move it."""
    out: list[Case] = []
    for s in sessions:
        liked = sorted(((i, t) for i, t in s.liked if i in catalog), key=lambda x: x[1])
        key = s.taste_key()
        for j in range(1, len(liked)):
            item_id, turn = liked[j]
            texts = tuple(m for m in s.messages[:turn + 1] if m.strip())
            if not texts:
                continue
            before = tuple(i for i, _ in liked[:j])
            disliked = tuple(i for i, t in s.disliked if t <= turn and i in catalog and i != item_id)
            out.append(Case(Query(texts=texts, liked_ids=before, disliked_ids=disliked,
                                  user_id=key if knows is not None and knows(key) else None, k=cutoff),
                            catalog.row(item_id)))
    return out


@dataclass(frozen=True)
class WeightChoice:
    weight: float
    cases: int  # held-out likes it was chosen on
    ndcg: dict[float, float] = field(default_factory=dict)  # weight -> mean NDCG@cutoff over the cases
    cutoff: int = 10
    # the weight the search found, when the learn step serves another (0: the term is off by
    # default, since the long-term simulation showed it lowering accuracy; --logbook-term)
    found: float | None = None

    def to_dict(self) -> dict:
        return {"weight": self.weight, "cases": self.cases, "cutoff": self.cutoff,
                f"ndcg@{self.cutoff}": {str(w): v for w, v in self.ndcg.items()},
                **({"found": self.found} if self.found is not None else {})}

    def line(self) -> str:
        """One line for the learn command's report."""
        if self.found is not None and self.cases:
            return (f"{LOGBOOK} co-occurrence term off (weight {self.weight:g}; --logbook-term serves it): on "
                    f"{self.cases} held-out likes weight {self.found:g} would take NDCG@{self.cutoff} "
                    f"{self.ndcg[0.0]:.3f} -> {self.ndcg[self.found]:.3f}, but in the long-term simulation it "
                    "lowered accuracy (benchmarks/results/longterm.md)")
        if not self.cases:
            return (f"{LOGBOOK} co-occurrence weight {self.weight:g}: no held-out session with two likes or more "
                    "to choose it on")
        return (f"{LOGBOOK} co-occurrence weight {self.weight:g}, chosen on {self.cases} held-out likes (each "
                f"ranked after its session's earlier likes): NDCG@{self.cutoff} {self.ndcg[0.0]:.3f} without the "
                f"term -> {self.ndcg[self.weight]:.3f}")


def choose_weight(rec: Recommender, term: CoOccurTerm, cases: Sequence[Case],
                  grid: Sequence[float] = WEIGHT_GRID, cutoff: int = 10) -> WeightChoice:
    """The weight of `term` in `rec` among `grid` (0 added when missing) with the best mean
    NDCG@cutoff of `cases`, the smallest on ties; no cases: 0. Each case's candidates are
    pooled once and re-ordered per weight (the term adds no candidates)."""
    grid = sorted({0.0, *map(float, grid)})
    if not cases:
        return WeightChoice(0.0, 0, {}, cutoff)
    served = with_logbook(rec, term, 0.0)
    pools = [(served.candidates(c.query), c.target_row) for c in cases]
    ndcg: dict[float, float] = {}
    for w in grid:
        r = with_logbook(rec, term, w)
        values = []
        for pool, target in pools:
            if len(pool.rows) == 0:
                values.append(0.0)
                continue
            ranking = r.order(pool, cutoff, r.fuser, r.config.mmr_lambda)
            values.append(ranking_metrics(pool.rows[ranking.order], np.array([target], np.int64), cutoff)[1])
        ndcg[w] = float(np.mean(values))
    best = max(ndcg.values())
    return WeightChoice(min(w for w in grid if ndcg[w] >= best - 1e-12), len(cases), ndcg, cutoff)
