"""Cold-start benchmark on the embedded MovieLens data: `python -m benchmarks.coldstart`.

Protocol (fusion/coldstart.py): 200 test users held out whole (seed 0), 150 other users
for tuning (fusion/tune.py), CF fitted on the remaining users. For each test user and
k in {0, 1, 3, 5, 10}: the first k liked items (by time) are revealed as session likes, the
request names the 3 most frequent genres of the user's held-out likes, and the Recommender
ranks its pool (text top-200 ∪ CF top-200 when there is a history; revealed items
excluded). Method rows compare fusion rules over a plain Recommender (text and CF, no
other term), re-tuned on the validation users: text only, CF only, fixed-α fusion,
adaptive fusion (the tuned α(n), the issue's rule that is text only at k = 0, and the best
rule whose CF weight grows with k), adaptive fusion + MMR, and adaptive fusion over a
text-only pool. The shipped row ranks with the pipeline `make run` serves from the
artifacts (`shipped_recommender`, the build's own code path: fusion/build.py
`learnt_pipeline` for a folder that learnt from conversations, the default, else
`ratings_pipeline`: the tuned config under the replay defaults, the request terms with the
request's genres wanted, the "popular" prior), its CF fitted on the training users.
Figures: mean Recall@10 / NDCG@10 / MRR@10 with 95% bootstrap intervals over users, paired
differences, an MMR λ sweep with diversity metrics, and CF-only figures per CF model.

Writes benchmarks/results/coldstart.json, coldstart.md, coldstart_ndcg_vs_k.png and
coldstart_mmr_tradeoff.png. About 3–5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from fusion.build import learnt_pipeline, built_pipeline, load_tuned, ratings_pipeline
from fusion.cf import CFModel, make_cf
from fusion.coldstart import KS, by_k, episodes, evaluate, split_users
from fusion.diversity import catalog_coverage, genre_coverage, intra_list_similarity, novelty
from fusion.fuse import Fuser, WeightedFuser
from fusion.config import PipelineConfig
from fusion.recommender import Recommender
from fusion.tune import MODELS, N_TEST, N_VALIDATION, SEED, tune
from retrieval.artifacts import jsonable
from retrieval.retriever import Retriever

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = "the shipped pipeline (bot)"
METRICS = ("recall@10", "ndcg@10", "mrr@10")
N_BOOT = 1000  # bootstrap resamples of users: enough for stable 2.5/97.5 percentiles
MMR_SWEEP = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.0)


def shipped_recommender(folder: Path, retriever: Retriever, cf: CFModel, tuned: PipelineConfig) -> Recommender:
    """The pipeline `make run` serves from the artifact folder `folder` (launch.py
    `make_bot` -> fusion/build.py `load_or_build`), over `cf`. A folder that learnt from
    conversations (the default, from the shipped dialogues): the weights tuned for what they
    teach, its parts and the logbook term (fusion/build.py `learnt_pipeline`); its priors
    count what recommenders named in ReDial, not ratings. Else the `tuned` config under the
    replay defaults with the request terms, the "popular" prior of `cf.counts` and the
    logbook term (`ratings_pipeline`). `cf` is the tuned config's model fitted on the
    benchmark's training users, so neither it nor a ratings prior has seen a test user's ratings."""
    learnt = learnt_pipeline(folder, retriever, cf)
    terms, config = learnt if learnt is not None else ratings_pipeline(folder, retriever, cf, tuned, tuned=True)
    return Recommender(retriever, cf, config, terms)


def build_manifest_note(folder: Path, config: PipelineConfig) -> str:
    """Whether the last build of `folder` recorded `config` as the pipeline it served."""
    built = built_pipeline(folder)
    if built is None:
        return f"{folder} has no build manifest yet: `make run` builds it with this config"
    if built == jsonable(config.to_dict()):
        return f"the same config {folder}/manifest.json records as the pipeline its last build served"
    return (f"{folder}/manifest.json records another pipeline for its last build (older code or other "
            "options); `make run` with this code serves the one above")


def bootstrap(values: np.ndarray, idx: np.ndarray) -> tuple[float, float, float]:
    """(mean, lo, hi): mean over users and its 95% percentile interval; idx (B, n_users)."""
    means = values[idx].mean(1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def method_figures(per_ep: np.ndarray, eps, idx: np.ndarray) -> dict:
    out = {}
    for j, name in enumerate(METRICS):
        split = by_k(eps, per_ep[:, j])
        out[name] = {str(k): dict(zip(("mean", "lo", "hi"), bootstrap(split[k], idx))) for k in KS}
    return out


def diversity_row(lists, rec: Recommender, counts: np.ndarray, n_users: int) -> dict:
    vec = rec.retriever.item_vectors
    return {"ils": float(np.mean([intra_list_similarity(r, vec) for r in lists])),
            "genre_coverage": float(np.mean([genre_coverage(r, rec.catalog) for r in lists])),
            "catalog_coverage": catalog_coverage(lists, len(rec.catalog)),
            "novelty": float(np.mean([novelty(r, counts, n_users) for r in lists]))}


def plot_ndcg(results: dict, methods: list[str], vs_cf: dict, path: Path) -> None:
    """Left: NDCG@10 against k per method; right: paired difference to CF only (zoomed,
    since fusion's gain over CF is small next to the spread between users)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8))
    for i, m in enumerate(methods):
        fig_m = results[m]["ndcg@10"]
        mean = [fig_m[str(k)]["mean"] for k in KS]
        lo = [fig_m[str(k)]["lo"] for k in KS]
        hi = [fig_m[str(k)]["hi"] for k in KS]
        ax.plot(KS, mean, marker="o", label=m, color=f"C{i}")
        ax.fill_between(KS, lo, hi, alpha=0.12, color=f"C{i}")
        if m in vs_cf:
            d = vs_cf[m]
            off = (i - len(methods) / 2) * 0.08  # side by side, so the intervals stay readable
            bx.errorbar([k + off for k in KS], [d[str(k)]["mean"] for k in KS],
                        yerr=[[d[str(k)]["mean"] - d[str(k)]["lo"] for k in KS],
                              [d[str(k)]["hi"] - d[str(k)]["mean"] for k in KS]],
                        marker="o", capsize=3, label=m, color=f"C{i}")
    ax.set_xlabel("liked items revealed (k)")
    ax.set_ylabel("NDCG@10 (95% bootstrap CI)")
    ax.set_title("Cold start on MovieLens: held-out users")
    ax.set_xticks(KS)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    bx.axhline(0, color="black", lw=0.8)
    bx.set_ylim(-0.03, 0.035)  # the k=0 text-only-at-0 rule (about -0.1) is off the chart
    bx.set_xlabel("liked items revealed (k)")
    bx.set_ylabel("NDCG@10 minus CF only (paired, 95% CI)")
    bx.set_title("Fusion's gain over CF alone")
    bx.set_xticks(KS)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_mmr(sweep: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "ils", "intra-list similarity (lower = more varied)"),
                           (axes[1], "genre_coverage", "genre coverage per list")):
        x = [r[key] for r in sweep]
        y = [r["ndcg@10"] for r in sweep]
        ax.plot(x, y, marker="o")
        for r in sweep:
            ax.annotate(f"λ={r['lambda']}", (r[key], r["ndcg@10"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
        ax.set_xlabel(label)
        ax.set_ylabel("NDCG@10 (mean over k = 1, 3, 5, 10)")
        ax.grid(alpha=0.3)
    fig.suptitle("MMR re-ranking of adaptive fusion: accuracy vs diversity")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def rounded(x, digits: int = 5):
    """The report with floats rounded: the JSON stays small and diffs stay readable."""
    if isinstance(x, float):
        return round(x, digits)
    if isinstance(x, dict):
        return {k: rounded(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v, digits) for v in x]
    return x


def fmt(c: dict) -> str:
    return f"{c['mean']:.3f} [{c['lo']:.3f}, {c['hi']:.3f}]"


def markdown(report: dict) -> str:
    r = report["methods"]
    lines = ["# Cold-start benchmark (MovieLens, held-out users)", "",
             f"{report['protocol']}", "",
             f"Tuned on validation users: {json.dumps(report['tuned_strategy'])}", "",
             f"Row '{report['shipped']['row']}': {report['shipped']['served_by']}; "
             f"{report['shipped']['build_manifest']}. Terms: {', '.join(report['shipped']['terms'])}. Config:", "",
             f"`{json.dumps(report['shipped']['config'], sort_keys=True)}`", ""]
    for metric in METRICS:
        lines += [f"## {metric} (mean [95% bootstrap CI] over {report['n_test_users']} users)", "",
                  "| method | " + " | ".join(f"k={k}" for k in KS) + " |",
                  "|---|" + "---|" * len(KS)]
        for m in report["method_order"]:
            lines.append(f"| {m} | " + " | ".join(fmt(r[m][metric][str(k)]) for k in KS) + " |")
        lines.append("")
    oracle = report["tuned_strategy"]["validation"]["best_fixed_alpha_per_k"]
    lines += ["## Best fixed α per k on the validation users (α = text weight, min-max)", "",
              "| k | " + " | ".join(oracle) + " |", "|---|" + "---|" * len(oracle),
              "| best α | " + " | ".join(str(v[0]) for v in oracle.values()) + " |",
              "| NDCG@10 | " + " | ".join(f"{v[1]:.4f}" for v in oracle.values()) + " |", "",
              "Adaptive α(n) used on the test users: " + ", ".join(
                  f"k={k}: {a:.3f}" for k, a in report["diagnostics"]["adaptive_alpha_by_k"].items()), ""]
    lines += ["## Paired NDCG@10 differences (method − other; 95% bootstrap CI over users)", "",
              "| comparison | " + " | ".join(f"k={k}" for k in KS) + " |", "|---|" + "---|" * len(KS)]
    for name, per_k in report["paired_ndcg"].items():
        lines.append(f"| {name} | " + " | ".join(fmt(per_k[str(k)]) for k in KS) + " |")
    lines += ["", "## MMR λ sweep on adaptive fusion (means over k = 1, 3, 5, 10)", "",
              "| λ | NDCG@10 | Recall@10 | ILS | genre coverage | catalog coverage | novelty (bits) |",
              "|---|---|---|---|---|---|---|"]
    for s in report["mmr_sweep"]:
        lines.append(f"| {s['lambda']} | {s['ndcg@10']:.4f} | {s['recall@10']:.4f} | {s['ils']:.3f} | "
                     f"{s['genre_coverage']:.3f} | {s['catalog_coverage']:.3f} | {s['novelty']:.2f} |")
    lines += ["", "## CF models alone (NDCG@10, mean [95% CI])", "",
              "| model | " + " | ".join(f"k={k}" for k in KS) + " |", "|---|" + "---|" * len(KS)]
    for m, per_k in report["cf_models"].items():
        lines.append(f"| {m} | " + " | ".join(fmt(per_k[str(k)]) for k in KS) + " |")
    d = report["diagnostics"]
    lines += ["", "## Why text alone is weak here", "",
              f"Median number of training ratings of the held-out liked items: {d['median_count_targets']:.0f}; "
              f"of text-only top-10 items: {d['median_count_text_top10']:.0f}; "
              f"of CF-only top-10 items (k=3): {d['median_count_cf_top10_k3']:.0f}.",
              "A genre request matches thousands of movies equally well; the text ranks obscure exact-genre "
              "matches first, while held-out likes are mostly popular films.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--artifacts", type=Path, default=ROOT / "artifacts" / "movielens")
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    from fusion.build import served_retriever
    from retrieval.movielens import load_movielens

    start = time.perf_counter()
    catalog, interactions = load_movielens()
    # The shipped pipeline: the encoder and the tuned config `make run` built (the first-run
    # fine-tune never saw these test users); the method rows are re-tuned on validation users.
    retriever = served_retriever(catalog, args.artifacts)  # requests heard as the chat hears them
    encoder = retriever.query_encoder
    split = split_users(catalog, interactions, N_TEST, N_VALIDATION, SEED)
    shipped = load_tuned(args.artifacts / "fusion", catalog, interactions)
    config = shipped or PipelineConfig()
    tuned = tune(retriever, split, encoder.encode([u.request for u in split.validation]), MODELS, config)
    strategy = config if shipped is not None else tuned.config
    qv = encoder.encode([u.request for u in split.test])
    idx = np.random.default_rng(SEED).integers(0, len(split.test), (N_BOOT, len(split.test)))

    cf_models, pools = {}, {}
    for name in MODELS + ("popularity",):
        rec = Recommender(retriever, make_cf(name, split.train, len(catalog)), config)
        eps = episodes(rec, split.test, qv, config.like_weight,
                       progress=lambda x: tqdm(x, desc=f"test pools ({name})", unit="user"))
        pools[name] = (rec, eps)
        per_ep, _ = evaluate(rec, eps, WeightedFuser(0.0))
        cf_models[name] = method_figures(per_ep, eps, idx)["ndcg@10"]
    rec, eps = pools[strategy.cf_model]
    # The shipped row: the served pipeline, with its own pools (its terms score them; the
    # method rows' plain Recommender has none). Same CF as the method rows when the
    # config asks for the model with its default parameters (what the tuner writes).
    fitted = pools.get(strategy.cf_model)
    shipped_cf = fitted[0].cf if fitted and not strategy.cf_params else make_cf(
        strategy.cf_model, split.train, len(catalog), **strategy.cf_params)
    served = shipped_recommender(args.artifacts, retriever, shipped_cf, strategy)
    eps_served = episodes(served, split.test, qv, served.config.like_weight,
                          progress=lambda x: tqdm(x, desc="test pools (shipped pipeline)", unit="user"))
    # The same tuned fuser when the pool is text candidates only (the first slice's pool):
    # how much of the result comes from letting CF's own top-N into the pool.
    text_pool = Recommender(retriever, rec.cf, config.with_(n_cf_candidates=0))
    eps_tp = episodes(text_pool, split.test, qv, config.like_weight)
    mmr_lambda = strategy.mmr_lambda if strategy.mmr_lambda is not None else 0.8
    cf_only = f"CF only ({strategy.cf_model})"
    # name -> (recommender, its pools, fuser, MMR λ); every pool list is in (user, k) order
    shipped_row = SHIPPED if shipped is not None else "tuned strategy (bot)"
    methods: dict[str, tuple[Recommender, list, Fuser, float | None]] = {
        "text only": (rec, eps, WeightedFuser(1.0), None),
        cf_only: (rec, eps, WeightedFuser(0.0), None),
        "fixed-α fusion": (rec, eps, tuned.best["fixed"], None),
        "adaptive, issue's rule (text only at k=0)": (rec, eps, tuned.best["adaptive_text_only_at_0"], None),
        "adaptive, CF weight grows with k": (rec, eps, tuned.best["adaptive_cf_grows"], None),
        "adaptive fusion (tuned α(n))": (rec, eps, tuned.best["adaptive"], None),
        f"adaptive + MMR λ={mmr_lambda}": (rec, eps, tuned.best["adaptive"], mmr_lambda),
        # as Recommender.recommend ranks: its own fuser and MMR λ
        shipped_row: (served, eps_served, served.fuser, served.config.mmr_lambda),
        "adaptive fusion, text-only pool": (text_pool, eps_tp, tuned.best["adaptive"], None),
    }
    results, per_method = {}, {}
    for m, (r, e, fuser, lam) in methods.items():
        per_ep, lists = evaluate(r, e, fuser, lam)
        per_method[m] = (per_ep, lists)
        results[m] = {"fuser": fuser.describe(), "mmr_lambda": lam, **method_figures(per_ep, e, idx)}
    ndcg = {m: by_k(eps, v[0][:, 1]) for m, v in per_method.items()}
    adaptive = "adaptive fusion (tuned α(n))"
    paired = {}
    for a, other in ((adaptive, "text only"), (adaptive, "fixed-α fusion"),
                     *((m, cf_only) for m in methods if m not in ("text only", cf_only))):
        paired[f"{a} − {other}"] = {
            str(k): dict(zip(("mean", "lo", "hi"), bootstrap(ndcg[a][k] - ndcg[other][k], idx))) for k in KS}
    # MMR sweep on adaptive fusion, over k >= 1 (k = 0 has no CF signal to diversify).
    counts = np.bincount(split.train.item_rows, minlength=len(catalog))
    n_train_users = len(split.train.users())
    ks = np.array([ep.k for ep in eps])
    sweep = []
    for lam in tqdm(MMR_SWEEP, desc="MMR sweep", unit="λ"):
        per_ep, lists = evaluate(rec, eps, tuned.best["adaptive"], lam)
        sel = ks > 0
        row = {"lambda": lam, "recall@10": float(per_ep[sel, 0].mean()), "ndcg@10": float(per_ep[sel, 1].mean()),
               **diversity_row([l for l, s in zip(lists, sel) if s], rec, counts, n_train_users)}
        sweep.append(row)
    text_lists = per_method["text only"][1]
    cf_lists = [l for l, ep in zip(per_method[f"CF only ({strategy.cf_model})"][1], eps) if ep.k == 3]
    diagnostics = {
        "median_count_targets": float(np.median(counts[np.concatenate([u.targets for u in split.test])])),
        "median_count_text_top10": float(np.median(counts[np.concatenate(text_lists)])),
        "median_count_cf_top10_k3": float(np.median(counts[np.concatenate(cf_lists)])),
        "adaptive_alpha_by_k": {str(k): tuned.best["adaptive"].fuse(np.zeros(2), np.zeros(2), k).alpha for k in KS},
        "validation_table": tuned.table,
    }
    report = {
        "protocol": (f"{len(split.test)} test users and {len(split.validation)} validation users held out whole "
                     f"(seed {SEED}; users with >= 15 ratings >= 4); CF fitted on the other "
                     f"{n_train_users} users' {len(split.train)} ratings. Per user and k: first k likes by time "
                     "revealed; targets = likes after the 10th; request = 3 most frequent target genres. "
                     f"Ranked: text top-{config.n_candidates} ∪ CF top-{config.n_cf_candidates} (CF part only "
                     "with a history), revealed items excluded. Bootstrap: "
                     f"{N_BOOT} resamples of users. The method rows compare fusion rules over a plain "
                     "Recommender (text and CF, no other term) re-tuned on the validation users; the "
                     f"'{shipped_row}' row ranks with the served pipeline (config below): its terms score "
                     "its own pools and the request's genres are wanted, as the bot sets them on hearing "
                     "genre names; revealed likes count as like-button likes (history, not mentions)."),
        "n_test_users": len(split.test), "tuned_strategy": {**strategy.to_dict(), "validation": tuned.validation},
        "shipped": {"row": shipped_row,
                    "config": served.config.to_dict(), "terms": list(served.terms),
                    "served_by": ("the pipeline `make run` serves from these artifacts" if shipped is not None else
                                  "no tuned config in these artifacts: this tuning as `make run` serves a tuned one")
                                 + (" (launch.py make_bot -> fusion/build.py learnt_pipeline: the weights tuned for "
                                    "what the shipped dialogues teach), its CF fitted on the training users; its "
                                    "priors count ReDial's recommendations, no rating"
                                    if "popularity" in served.terms else
                                    " (launch.py make_bot -> fusion/build.py ratings_pipeline), its CF fitted on the "
                                    "training users: the popular prior counts their ratings only"),
                    "build_manifest": build_manifest_note(args.artifacts, served.config)},
        "method_order": list(methods), "methods": results, "paired_ndcg": paired,
        "mmr_sweep": sweep, "cf_models": cf_models, "diagnostics": diagnostics,
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "coldstart.json").write_text(json.dumps(rounded(report), indent=1))
    (args.out / "coldstart.md").write_text(markdown(report))
    vs_cf = {k.split(" − ")[0]: v for k, v in paired.items() if k.endswith(f" − {cf_only}")}
    plot_ndcg(results, list(methods), vs_cf, args.out / "coldstart_ndcg_vs_k.png")
    plot_mmr(sweep, args.out / "coldstart_mmr_tradeoff.png")
    a = results[adaptive]["ndcg@10"]
    print(f"cold-start benchmark: {len(split.test)} users in {report['seconds']:.0f} s; adaptive NDCG@10 "
          + ", ".join(f"k={k} {a[str(k)]['mean']:.3f}" for k in KS) + f" -> {args.out}/coldstart.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
