"""Recorded conversations replayed through the bot, scored, and used to tune the pipeline.

A dialogue (retrieval/dialogue.py: a ReDial conversation moved onto the bot's catalog, or
any transcript whose recommender turns name items) is fed to `Bot.listen` one seeker
message at a time, as a person would type it. Each recommender turn that names an item
new to the dialogue becomes a `Case`: the bot's session at that moment and the items the
human recommender named. `score` ranks them with the bot's own pool and fusion;
`tune_on_dialogues` chooses the pipeline's weights for what conversations taught it
(fusion/conversations.py) by that score on a dev split, so the number a build tunes is
the number the benchmark reports (benchmarks/conversations.py) on other dialogues.

Knows nothing of files or of how the dialogues were linked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

import numpy as np

from bot.conversation.state import Session
from fusion.config import REPLAY_DEFAULTS, PipelineConfig
from fusion.tune import GUARD_KEEP, ColdStartGuard
from fusion.metrics import RankingMetrics

LIST_LENGTH = 50  # the longest cutoff reported (Recall@50)


@dataclass(frozen=True)
class Case:
    """One recommender turn: the bot's session after the seeker's messages so far."""

    dialogue_id: str
    session: Session
    targets: tuple[str, ...]  # bot-catalog ids the human recommender named, new to the dialogue
    earlier: tuple[str, ...]  # bot-catalog ids mentioned before: never listed
    shown: tuple[tuple[str, int], ...] = ()  # (item id, best rank) of what the bot's own lists showed so far


def replay(bot, dialogues: Iterable, to_bot: Mapping[str, str], replies: bool = False) -> list:
    """Cases of every dialogue: seeker messages go through `bot.listen`; each recommender
    turn naming a linked movie not mentioned before becomes a Case. `to_bot` maps the
    dialogues' movie ids to the bot's item ids (unlinked movies are absent). With
    `replies`, the bot answers every recommender turn with its list (after the case is
    taken), as it would in the chat."""
    from bot.conversation.chat import BadInput

    cases = []
    for d in dialogues:
        session = bot.new_session(d.dialogue_id)
        mentioned: list[str] = []
        shown: dict[str, int] = {}
        for turn in d.turns:
            if turn.seeker:
                try:
                    session = bot.listen(turn.text, session)
                except BadInput:  # an empty message: nothing heard
                    pass
            elif session.turns:
                targets = tuple(dict.fromkeys(to_bot[m] for m in turn.item_ids
                                              if m in to_bot and m not in mentioned))
                if targets:
                    cases.append(Case(d.dialogue_id, session, targets,
                                      tuple(dict.fromkeys(to_bot[m] for m in mentioned if m in to_bot)),
                                      tuple(shown.items())))
                if replies:
                    answer = bot.recommend(session)
                    session = answer.session
                    for it in answer.items:
                        r = it.recommendation
                        shown[r.item.item_id] = min(shown.get(r.item.item_id, r.rank), r.rank)
            mentioned.extend(m for m in turn.item_ids if m not in mentioned)
    return cases


def score(bot, cases: list, fusers: Mapping[str, object], k: int = LIST_LENGTH,
          count_shown: bool = False) -> dict[str, RankingMetrics]:
    """Per fuser name, the ranks of every case's targets in the bot's top-k list (k+1 for
    a miss; `None` as fuser = the bot's own). One pool per case, shared by the fusers.
    With `count_shown`, a target the bot's own earlier lists already showed (it is then
    never listed again) counts at the best rank it was shown at."""
    rec = bot.recommender
    out = {name: RankingMetrics() for name in fusers}
    for case in cases:
        pool = rec.candidates(case_query(bot, case, k))
        for name, fuser in fusers.items():
            out[name].add_ranks(target_ranks(rec, pool, case.targets, k, fuser or rec.fuser,
                                             dict(case.shown) if count_shown else None))
    return out


def target_ranks(rec, pool, targets: Sequence[str], k: int, fuser, shown: Mapping[str, int] | None = None) -> list[int]:
    """The rank of each target in `rec`'s top-k of `pool` under `fuser` (k+1 for a miss);
    `shown` (item id -> rank) overrides the list's ranks for items shown before."""
    listed = [] if len(pool.rows) == 0 else \
        [rec.catalog.items[r].item_id for r in rec.order(pool, k, fuser, rec.config.mmr_lambda).rows]
    position = {item_id: i + 1 for i, item_id in enumerate(listed)}
    if shown:
        position = {**position, **shown}
    return [position.get(t, k + 1) for t in targets]


def case_query(bot, case: Case, k: int = LIST_LENGTH):
    """The bot's query for a case: its session, with the items mentioned earlier left out."""
    query = bot.query(case.session)
    return replace(query, exclude_ids=query.exclude_ids + case.earlier, k=k)


# --- tuning on a dev split ------------------------------------------------------------
# The pipeline's structure for a conversation (how the request is read; whether FAISS's
# text top-N or the whole catalog are the candidates: priors and co-occurrence can only
# lift items that are candidates), each searched in turn.
# And whether what was learnt fades as likes grow (PipelineConfig.term_decay): a choice that
# only pays together with larger weights, which a search of one knob at a time never reaches.
STRUCTURES = (("turns", None, None), ("context", None, None), ("turns", None, 3.0), ("context", None, 3.0))
# Knobs: "fuser" ("tuned": the ratings-tuned fuser; a number: fixed α), "w:<term>" the
# weight of a term of fusion/conversations.py `conversation_terms`, or a config field.
DIALOGUE_GRID = {"fuser": ("tuned", 0.8, 0.6, 0.4, 0.2, 0.0), "w:alike": (0.0, 0.2, 0.4, 0.8),
                 "w:popular": (0.0, 0.1, 0.3, 0.6),
                 "w:popularity": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0),
                 "w:dialogues": (0.0, 0.1, 0.3, 0.6, 1.0, 2.0),
                 "w:head": (0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
                 "w:neighbours": (0.0, 0.3, 1.0),
                 "entity_weight": (0.0, 0.3, 0.6)}
# The start is the ratings-only pipeline (its fuser and replay defaults, fusion/config.py
# REPLAY_DEFAULTS): the search keeps what the dev replay rewards, and the guard keeps, at
# every number of likes, the cold-start figure of that pipeline (fusion/tune.py
# ColdStartGuard): what other people's talk teaches must not cost what likes bring.
DIALOGUE_START = {"fuser": "tuned", "w:alike": REPLAY_DEFAULTS["weights"]["alike"],
                  "w:popular": REPLAY_DEFAULTS["weights"]["popular"], "w:popularity": 0.0, "w:dialogues": 0.0,
                  "w:head": 0.0, "w:neighbours": 0.0, "entity_weight": 0.0}


@dataclass(frozen=True)
class Search:
    """What a dev replay searches: the structures (config fields that change the pool,
    e.g. (query, n_candidates)), then, in each, a coordinate search over `grid` from `start`."""

    structures: tuple[Mapping, ...]
    grid: Mapping[str, tuple]
    start: Mapping[str, object]
    rounds: int = 2
    # The guard's reference: False = each structure's start, in the mean over k; True = the
    # recommender's own config (the pipeline the search starts from), at every k.
    guard_per_k: bool = False

    def fingerprint(self) -> str:
        """What the tuner searches: a build retunes when it changes."""
        import hashlib
        import json

        # a structure of (query, n_candidates) only is written as that pair
        structures = [[s["query"], s["n_candidates"]] if set(s) == {"query", "n_candidates"} else dict(s)
                      for s in self.structures]
        spec = {"structures": structures, "grid": self.grid, "start": self.start, "list": LIST_LENGTH,
                "objective": "mean of recall@10 and recall@50", "rounds": self.rounds,
                "guard": f"cold-start NDCG@10 of validation users, kept at {GUARD_KEEP}"
                         + (" at every k of the starting pipeline" if self.guard_per_k else "")}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


# The weights of what conversations taught (a build with --dialogues; fusion/build.py).
DIALOGUE_SEARCH = Search(tuple({"query": q, "n_candidates": n, "term_decay": d} for q, n, d in STRUCTURES),
                         DIALOGUE_GRID, DIALOGUE_START,
                         guard_per_k=True)
# The weights of the terms every ratings-only pipeline has (fusion/terms.py request_terms
# and the "popular" prior), chosen once on ReDial dev dialogues moved onto MovieLens and
# shipped as fusion/config.py REPLAY_DEFAULTS (benchmarks/conversations.py --tune-defaults).
# Words first: the pool stays FAISS's text top-N, at most 1,000 (every item as a candidate
# scored higher on dev, but put Pulp Fiction first for "a funny movie about dogs"), the
# text weight stays at least 0.4 or the ratings-tuned fuser's, and only the "turns"
# reading ("context" re-encodes the whole conversation every turn).
RATINGS_SEARCH = Search(
    tuple({"query": "turns", "n_candidates": n} for n in (200, 500, 1000)),
    {"fuser": ("tuned", 0.8, 0.6, 0.4), "w:popular": (0.0, 0.05, 0.1, 0.2, 0.3),
     "w:latest": (0.0, 0.1, 0.3, 0.6), "w:genres": (0.0, 0.1, 0.3, 0.6), "entity_weight": (0.0, 0.3, 0.6),
     "w:alike": (0.0, 0.1, 0.2, 0.4, 0.8)},
    {"fuser": "tuned", "w:popular": 0.0, "w:latest": 0.0, "w:genres": 0.0, "entity_weight": 0.0, "w:alike": 0.0})


def tuner_fingerprint() -> str:
    """The dialogue tuner's fingerprint (launch.py gives it to the build)."""
    return DIALOGUE_SEARCH.fingerprint()


def point_config(base: PipelineConfig, point: Mapping) -> PipelineConfig:
    """`base` with a search point's knobs set."""
    weights = {**base.weights, **{k[2:]: float(v) for k, v in point.items() if k.startswith("w:")}}
    fields = {k: v for k, v in point.items() if not k.startswith("w:") and k != "fuser"}
    fuser = point.get("fuser", "tuned")
    if fuser != "tuned":
        fields.update(fuser=None, alpha=float(fuser))
    return base.with_(**fields, weights={k: v for k, v in weights.items() if v})


def objective(result: Mapping[str, float]) -> float:
    """What the tuner maximises: the mean of Recall@10 and Recall@50."""
    return (result["recall@10"] + result["recall@50"]) / 2


def tune_on_dialogues(recommender, dev: Sequence, progress: bool = True,
                      search: Search = DIALOGUE_SEARCH, guard: ColdStartGuard | None = None) -> tuple[PipelineConfig, dict]:
    """The config of `recommender` (whose terms include those `search` weighs, e.g.
    `conversation_terms`) that ranks best what the human recommenders named in the `dev`
    dialogues (on its catalog's item ids), replayed through the bot seeker message by
    seeker message, among the points `guard` lets through; the report holds every
    structure's best point and dev figures, the start among them."""
    from bot.conversation.chat import Bot
    from fusion.tune import coordinate_search

    start = time.perf_counter()
    identity = {it.item_id: it.item_id for it in recommender.catalog.items}
    cases = replay(Bot(recommender), dev, identity)
    base = recommender.config
    report: dict = {"n_dialogues": len(dev), "n_cases": len(cases), "grid": dict(search.grid),
                    "start": dict(search.start), "structures": []}
    if not cases:
        report["skipped"] = "no recommender turn of the dev dialogues names a catalog item"
        return base, report
    best: tuple[float, PipelineConfig] | None = None
    reference = guard.per_k(base) if guard is not None and search.guard_per_k else None
    if reference is not None:
        report["guard_reference"] = {"config": base.to_dict(), "ndcg@10_by_k": rounded(reference)}
    for structure in search.structures:
        rec = recommender.with_config(base.with_(**structure))
        bot = Bot(rec)
        pools = [(rec.candidates(case_query(bot, c)), c.targets) for c in cases]

        def dev_result(point: dict, rec=rec, pools=pools) -> dict:
            scored = rec.with_config(point_config(rec.config, point))
            metrics = RankingMetrics()
            for pool, targets in pools:
                metrics.add_ranks(target_ranks(scored, pool, targets, LIST_LENGTH, scored.fuser))
            return metrics.result()

        guarded: dict[str, np.ndarray] = {}  # point (as JSON) -> its guard figures, each scored once

        def guard_of(point: dict, rec=rec, guarded=guarded) -> np.ndarray:
            key = json.dumps(point, sort_keys=True)
            if key not in guarded:
                figures = guard.per_k(point_config(rec.config, point))
                guarded[key] = figures if search.guard_per_k else figures.mean(keepdims=True)
            return guarded[key]

        floor = None
        if guard is not None:
            floor = guard.keep * (reference if search.guard_per_k else guard_of(dict(search.start)))

        def value_of(point: dict, floor=floor, guard_of=guard_of) -> float:
            if floor is not None and (guard_of(point) < floor - 1e-9).any():
                return float("-inf")
            return objective(dev_result(point))

        point, value, trace = coordinate_search(search.grid, search.start, value_of, rounds=search.rounds)
        row = {**structure, "best": point, "objective": round(value, 5), "start_objective": allowed(trace[0][1]),
               "dev": dev_result(point), "start_dev": dev_result(dict(search.start)), "configs_tried": len(trace)}
        if guard is not None:
            row["guard"] = {"name": guard.name, "keep": guard.keep, "floor": rounded(floor),
                            "start": rounded(guard_of(dict(search.start))), "best": rounded(guard_of(point)),
                            "refused": sum(1 for _, v in trace if v == float("-inf"))}
        report["structures"].append(row)
        if progress:
            began = "the start refused by the guard" if trace[0][1] == float("-inf") else f"{trace[0][1]:.3f}"
            print(f"  dev replay, {describe_structure(structure)}: objective {began} -> {value:.3f} at {point}",
                  flush=True)
        if best is None or value > best[0] + 1e-9:
            best = (value, point_config(rec.config, point))
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["chosen"] = best[1].to_dict()
    return best[1], report


def allowed(value: float) -> float | None:
    """An objective for a report: None where the guard refused the point."""
    return None if value == float("-inf") else round(value, 5)


def rounded(figures: np.ndarray) -> float | list[float]:
    """Guard figures for a report: one number for a mean, else one per k."""
    return round(float(figures[0]), 5) if len(figures) == 1 else [round(float(v), 5) for v in figures]


def describe_structure(structure: Mapping) -> str:
    """E.g. "turns / 200 candidates" or "context / all candidates / terms fade with likes (n0 3.0)"."""
    fade = structure.get("term_decay")
    return (f"{structure.get('query')} / {structure.get('n_candidates') or 'all'} candidates"
            + (f" / terms fade with likes (n0 {fade})" if fade is not None else ""))
