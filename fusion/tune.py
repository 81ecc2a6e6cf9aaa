"""Tune the pipeline's CF model, fuser and MMR λ on validation users: `python -m fusion.tune`.

On the cold-start protocol (fusion/coldstart.py) with the validation users only (disjoint
from the benchmark's test users, seed-fixed), for each CF model fitted on the training
users, every fuser of `fuser_grid()` is scored by mean NDCG@10 over all (user, k) episodes.
The best (CF model, fuser) wins; MMR λ is then the smallest λ that keeps >= MMR_KEEP of
that NDCG. The choice and the validation figures go to `<artifacts>/fusion/manifest.json`,
which fusion/build.py reads, so the bot uses them by default.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fusion.cf import make_cf
from fusion.coldstart import (K_MAX, KS, MIN_TARGETS, Split, by_k, eligible_users, episodes, evaluate, split_users,
                             validation_ndcg)
from fusion.fuse import AdaptiveFuser, Fuser, RRFFuser, WeightedFuser, fuser_from_dict
from fusion.cf import fingerprints
from fusion.config import PipelineConfig, save_config
from fusion.recommender import Recommender
from retrieval.records import Catalog
from retrieval.retriever import Retriever

log = logging.getLogger(__name__)

N_TEST, N_VALIDATION, SEED = 200, 150, 0  # the benchmark and the tuner must split alike
MODELS = ("itemknn", "ease", "als")
MMR_LAMBDAS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.3)
MMR_KEEP = 0.98  # MMR may cost at most 2% of validation NDCG@10 (a judgement call)


def fuser_grid() -> list[Fuser]:
    """Single sources (α = 1, 0), fixed α, RRF and adaptive rules (288 fusers)."""
    alphas = [0.05] + [round(float(a), 1) for a in np.arange(0.1, 1.0, 0.1)]
    grid: list[Fuser] = [WeightedFuser(1.0), WeightedFuser(0.0)]
    for norm in ("minmax", "zscore"):
        grid += [WeightedFuser(a, norm) for a in alphas]
        # α0 = 1 is the rule (text only without likes); α0 < α_inf lets text gain
        # weight as likes accumulate, which this grid must be able to find if it is better.
        grid += [AdaptiveFuser(inf, n0, norm, a0) for inf in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
                 for n0 in (0.5, 1.0, 2.0, 4.0) for a0 in (1.0, 0.5, 0.3, 0.2, 0.1, 0.0) if a0 != inf]
    grid += [RRFFuser(a, 60.0) for a in alphas]
    return grid


@dataclass(frozen=True)
class TuneResult:
    config: PipelineConfig  # the winner over every (CF model, fuser): what the bot uses
    validation: dict[str, Any]  # the figures behind the choice
    # Best fuser of each family (FAMILIES) for the winning CF model: the benchmark's methods.
    best: dict[str, Fuser]
    table: list[dict[str, Any]]  # every (model, fuser) with its validation NDCG@10


FAMILIES = {
    "fixed": lambda d: d["kind"] == "weighted" and d["norm"] == "minmax" and 0 < d["alpha"] < 1,
    "adaptive": lambda d: d["kind"] == "adaptive",  # α0 != α_inf in the grid: α really varies
    "adaptive_cf_grows": lambda d: d["kind"] == "adaptive" and d["alpha0"] > d["alpha_inf"],
    "adaptive_text_only_at_0": lambda d: d["kind"] == "adaptive" and d["alpha0"] == 1.0,
}


def load_text(catalog: Catalog, encoder, folder: Path | None) -> Retriever:
    """The app's cached item vectors when they match this encoder, else built in memory."""
    from retrieval.artifacts import StaleArtifactError

    if folder is not None and (folder / "manifest.json").exists():
        try:
            return Retriever.load(folder, catalog, encoder)
        except StaleArtifactError as e:
            log.warning("not using %s (%s); encoding the catalog", folder, e)
    return Retriever.build(catalog, encoder, progress=True)


def tune(retriever: Retriever, split: Split, query_vectors: np.ndarray,
         models: Sequence[str] = MODELS, config: PipelineConfig = PipelineConfig()) -> TuneResult:
    """query_vectors: float32 (len(split.validation), dim), the requests' embeddings."""
    from tqdm.auto import tqdm

    table, best = [], None
    pools = {}
    for name in models:
        cf = make_cf(name, split.train, len(retriever.catalog))
        rec = Recommender(retriever, cf, config)
        eps = episodes(rec, split.validation, query_vectors, config.like_weight,
                       progress=lambda x: tqdm(x, desc=f"validation pools ({name})", unit="user"))
        pools[name] = (rec, eps)
        for fuser in tqdm(fuser_grid(), desc=f"fusers ({name})", unit="fuser"):
            per_ep = evaluate(rec, eps, fuser)[0][:, 1]
            ndcg = float(per_ep.mean())
            table.append({"cf_model": name, "fuser": fuser.describe(), "ndcg@10": ndcg,
                          "ndcg@10_by_k": {str(k): float(v.mean()) for k, v in by_k(eps, per_ep).items()}})
            if best is None or ndcg > best[2]:
                best = (name, fuser, ndcg)
    name, fuser, ndcg = best
    rec, eps = pools[name]
    families = {fam: max((r for r in table if r["cf_model"] == name and pick(r["fuser"])),
                         key=lambda r: r["ndcg@10"]) for fam, pick in FAMILIES.items()}
    # The best fixed α at each k separately: the most any α(n) rule could reach on these users.
    fixed = [r for r in table if r["cf_model"] == name and r["fuser"]["kind"] == "weighted"
             and r["fuser"]["norm"] == "minmax"]
    oracle = {str(k): max(((r["fuser"]["alpha"], r["ndcg@10_by_k"][str(k)]) for r in fixed),
                          key=lambda t: t[1]) for k in KS}
    mmr_curve = {lam: float(evaluate(rec, eps, fuser, lam)[0][:, 1].mean()) for lam in MMR_LAMBDAS}
    ok = [lam for lam, v in mmr_curve.items() if v >= MMR_KEEP * ndcg]
    tuned = config.with_(cf_model=name, cf_params={}, fuser=fuser.describe(), mmr_lambda=min(ok) if ok else None)
    validation = {"users": len(split.validation), "seed": SEED, "ndcg@10": ndcg,
                  "metric": "mean NDCG@10 over users and k in (0, 1, 3, 5, 10)",
                  "best_by_family": families, "mmr_ndcg@10": mmr_curve, "best_fixed_alpha_per_k": oracle,
                  "mmr_rule": f"smallest lambda keeping >= {MMR_KEEP} of NDCG@10"}
    best_fusers = {fam: fuser_from_dict(r["fuser"]) for fam, r in families.items()}
    return TuneResult(tuned, validation, best_fusers, table)


# Users left to fit the CF models on once the test and validation users are out: fewer,
# and a tuned CF model is fitted on too little to be worth choosing among.
MIN_TUNE_TRAIN_USERS = 100


def coordinate_search(grid: Mapping[str, Sequence], start: Mapping[str, Any], score: Callable[[dict], float],
                      rounds: int = 3) -> tuple[dict, float, list]:
    """Coordinate ascent over `grid` (knob -> values) from `start`: each knob in turn takes
    its best value with the others held, until a whole round changes nothing (at most
    `rounds`). Returns (best point, its score, every (point, score) tried)."""
    point = dict(start)
    best = score(point)
    trace = [(dict(point), best)]
    for _ in range(rounds):
        changed = False
        for knob, values in grid.items():
            for value in values:
                if value == point[knob]:
                    continue
                candidate = {**point, knob: value}
                result = score(candidate)
                trace.append((candidate, result))
                if result > best + 1e-9:
                    point, best, changed = candidate, result, True
        if not changed:
            break
    return point, best, trace


def tune_readiness(interactions) -> str:
    """"" when the log can be tuned on, else why not (in words a build prints): it needs
    N_TEST + N_VALIDATION users with enough likes to hold out, and MIN_TUNE_TRAIN_USERS
    more to fit CF on."""
    users = len(interactions.users())
    eligible = len(eligible_users(interactions))
    need = N_TEST + N_VALIDATION
    if eligible < need or users - need < MIN_TUNE_TRAIN_USERS:
        return (f"{users:,} users, {eligible:,} of them with {K_MAX + MIN_TARGETS}+ likes to hold out "
                f"(needs {need + MIN_TUNE_TRAIN_USERS:,} users, {need:,} of them with {K_MAX + MIN_TARGETS}+ likes)")
    return ""


def can_tune(interactions) -> bool:
    """Enough users for disjoint test and validation groups plus users to fit CF on."""
    return not tune_readiness(interactions)


def training_users(catalog: Catalog, interactions):
    """The interactions less the users tuning and the cold-start benchmark hold out (all
    of them when there are too few users to tune: nothing is held out then)."""
    if not can_tune(interactions):
        return interactions
    return split_users(catalog, interactions, N_TEST, N_VALIDATION, SEED).train


GUARD_KEEP = 0.98  # a choice made on other data keeps 98% of the cold-start figure (as MMR's rule)


@dataclass(frozen=True)
class ColdStartGuard:
    """Figures a choice made on other data must keep (bot/offline/replay.py tune_on_dialogues):
    `per_k(config)` (NDCG@10 per number of likes revealed, fusion/coldstart.py KS) of every
    point tried is at least `keep` times a reference config's, in the mean over k
    (`score`) or at every k, as the search asks; else the point is refused."""

    name: str
    per_k: Callable[[PipelineConfig], np.ndarray]
    keep: float = GUARD_KEEP

    def score(self, config: PipelineConfig) -> float:
        """The mean over k: the cold-start tuner's own metric."""
        return float(self.per_k(config).mean())


def ratings_guard(catalog: Catalog, interactions, retriever: Retriever, config: PipelineConfig,
                  terms: Callable[[Any], Sequence]) -> ColdStartGuard | None:
    """The cold-start guard of the dev-replay tuners: mean NDCG@10 over the validation
    users and k = 0..10 revealed likes (fusion/coldstart.py validation_ndcg) of the
    pipeline under each config tried, its CF (`config`'s model) fitted without the held-out
    users and `terms(cf)` its terms; the cold-start benchmark's test users are never read.
    Words alone once chose weights that put the bot below CF only at every k. None when the
    interactions are too few to hold users out."""
    if not can_tune(interactions):
        return None
    split = split_users(catalog, interactions, N_TEST, N_VALIDATION, SEED)
    cf = make_cf(config.cf_model, split.train, len(catalog), **config.cf_params)
    served = Recommender(retriever, cf, config, list(terms(cf)))
    qv = retriever.query_encoder.encode([u.request for u in split.validation])
    return ColdStartGuard(f"cold-start NDCG@10 of the {len(split.validation)} validation users (k = "
                 f"{', '.join(map(str, KS))} likes revealed)", validation_ndcg(served, split.validation, qv))


def tune_and_save(catalog: Catalog, interactions, retriever: Retriever, folder: Path,
                  models: Sequence[str] = MODELS, config: PipelineConfig = PipelineConfig()) -> TuneResult:
    """Tune on this catalog's validation users with the bot's own retriever (its encoder
    embeds the requests) and write the pipeline config to `folder` (e.g. <artifacts>/fusion)."""
    split = split_users(catalog, interactions, N_TEST, N_VALIDATION, SEED)
    qv = retriever.query_encoder.encode([u.request for u in split.validation])
    result = tune(retriever, split, qv, models, config)
    save_config(folder, result.config, fingerprints(catalog, interactions), result.validation)
    return result


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description="Tune CF model, fuser and MMR λ on MovieLens validation users.")
    p.add_argument("--artifacts", type=Path, default=root / "artifacts" / "movielens",
                   help="artifact folder the bot loads (the config goes to <artifacts>/fusion)")
    p.add_argument("--models", default=",".join(MODELS), help="CF models to try, comma-separated")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from fusion.build import served_retriever
    from retrieval.movielens import load_movielens

    start = time.perf_counter()
    catalog, interactions = load_movielens()
    retriever = served_retriever(catalog, args.artifacts)  # the bot's encoder, items and query precision
    r = tune_and_save(catalog, interactions, retriever, args.artifacts / "fusion",
                      [m.strip() for m in args.models.split(",") if m.strip()])
    s, v = r.config, r.validation
    print(f"tuned on {v['users']} validation users in {time.perf_counter() - start:.0f} s: "
          f"cf={s.cf_model} fuser={s.fuser} mmr_lambda={s.mmr_lambda} "
          f"(validation NDCG@10 {v['ndcg@10']:.4f}) "
          f"-> {args.artifacts / 'fusion' / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
