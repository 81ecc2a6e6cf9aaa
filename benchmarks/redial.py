"""ReDial benchmark: fine-tune, tune on valid, evaluate, and write the report — one command.

    python -m benchmarks.redial [--data-dir DIR] [--artifacts DIR] [--steps N] [--retrain]
                                [--trainable top:1 top:2 all]

1. Fine-tunes the base encoder on dialogue pairs of train.jsonl (90% of the dialogues;
   the other 10% give the early-stopping metric), once per trainable setting: "top:1"
   (only the last layer, as in the seed article), "top:2", and "all" layers (a short
   run: ~15-30 s per step on 2 busy cores); an existing model
   folder trained on the same pairs with the same trainable part is reused (--retrain
   trains again with the current recipe).
2. Tunes on valid.jsonl: number of context turns, alpha, popularity prior, the CF
   history weights, the weight of text similarity to mentioned movies, and which encoder; the grid and the chosen values go into
   `<artifacts>/manifest.json` (read by `launch.py evaluate redial --artifacts`).
3. Evaluates every variant on valid.jsonl in both protocols and writes
   benchmarks/results/redial.json, redial.md and redial_recall_at_k.png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_ARTIFACTS = ROOT / "artifacts" / "redial"


# Max steps per trainable setting, as in the committed report: "all" costs ~3 s a step on
# 2 idle cores (15-30 s on the busy ones it ran on); "top:K" runs the frozen layers once,
# then ~0.5-1 s a step.
STEPS = {"all": 16, "top:1": 600, "top:2": 400}


def recipe(steps: int, trainable: str):
    """The fine-tuning config for ReDial on 2 CPU cores (`steps` = max steps)."""
    from retrieval.finetune import FinetuneConfig

    if trainable == "all":
        return FinetuneConfig(max_steps=steps, eval_every=max(steps // 2, 1), patience=2, trainable=trainable,
                              lr=5e-5, val_pool=1000, query_max_length=64)
    # Only the top layer(s) train: a higher rate and more steps, as is usual for a partial tune.
    return FinetuneConfig(max_steps=steps, eval_every=100, patience=2, trainable=trainable,
                          lr=1e-4, val_pool=1000, query_max_length=64)


def train_encoder(data_dir: Path, out_dir: Path, steps: int, trainable: str,
                  retrain: bool = False) -> dict:
    """Fine-tune on train.jsonl dialogue pairs, or reuse `out_dir` when its manifest says
    it was trained with this recipe on these pairs. Returns the folder's manifest."""
    from retrieval.artifacts import StaleArtifactError, check_manifest, read_manifest
    from retrieval.encoder import base_model_dir
    from retrieval.finetune import KIND, finetune
    from retrieval.pairs import dialogue_pairs, fingerprint
    from retrieval.redial import load_catalog, load_dialogues

    catalog = load_catalog(data_dir)
    dialogues = load_dialogues(data_dir / "train.jsonl", catalog)
    n_valid = len(dialogues) // 10  # last 10% of train dialogues: early-stopping pairs
    train = dialogue_pairs(dialogues[:-n_valid], seed=0)
    valid = dialogue_pairs(dialogues[-n_valid:], hard_negatives=False, seed=0)[:300]
    config = recipe(steps, trainable)
    fps = {"train_pairs": fingerprint(train), "valid_pairs": fingerprint(valid)}
    if not retrain and (out_dir / "config.json").exists():
        try:
            manifest = check_manifest(out_dir, KIND, fps)
            # Same pairs, same trainable part: reused even if trained for another number of
            # steps (its manifest, and so the report, records the recipe it was trained with).
            if manifest["config"]["finetune"]["trainable"] == config.trainable:
                print(f"reusing fine-tuned encoder {out_dir} "
                      f"({manifest['config']['finetune']['max_steps']} max steps)", flush=True)
                return manifest
        except StaleArtifactError as e:
            print(f"retraining: {e}", flush=True)
    finetune(base_model_dir(), train, valid, {it.item_id: it.text for it in catalog.items},
             out_dir, config, extra_manifest={"catalog": catalog.fingerprint()})
    return read_manifest(out_dir)


PUBLISHED = {  # data README: standard protocol (official split), new items (Kostric & Balog 2026)
    "standard": {"KBRD": (.030, .163, .338), "KGSF": (.039, .183, .378), "UniCRS": (.051, .224, .428),
                 "MESE": (.056, .256, .455), "ReFICR": (.061, .305, .532), "GPT-4 zero-shot": (.045, .194, None)},
    "new_items": {"UniCRS": (.024, .180, .335), "ReFICR": (.018, .213, .465), "ECR": (.026, .181, .337)},
}
N_TURNS = (0, 3)  # 0 = the whole context (truncated, newest first, at max_length)
ALPHAS = (1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2, 0.0)
ENTITY_WEIGHTS = (0.0, 0.3, 0.6)
POP_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
CF_WEIGHTS = ((1.0, 1.0), (1.0, 0.5), (1.0, 0.0))  # (like_weight, mention_weight)
CURVE_KS = list(range(1, 101))


def objective(result: dict) -> float:
    """Selection metric: mean of Recall@10 and Recall@50 over both protocols."""
    return float(np.mean([result[p][m] for p in ("standard", "new_items") for m in ("recall@10", "recall@50")]))


def tune_and_report(data_dir: Path, artifacts: Path, encoder_names: list[str]) -> dict:
    """Grid search on valid.jsonl (coordinate-wise: n_turns on text alone, then alpha x
    popularity x CF weights), the system manifest, and the report files."""
    from fusion.evaluate import (SYSTEM_KIND, RedialConfig, cf_scores, evaluate_redial, evaluate_scores,
                                 fit_cooccurrence, fused_scores, item_vectors, load_encoder, prepare)
    from retrieval.artifacts import write_manifest
    from retrieval.redial import load_catalog, load_dialogues, recommender_samples

    catalog = load_catalog(data_dir)
    train = load_dialogues(data_dir / "train.jsonl", catalog)
    samples = recommender_samples(load_dialogues(data_dir / "valid.jsonl", catalog))
    cf_model = fit_cooccurrence(train, catalog)
    cf = {w: cf_scores(cf_model, samples, catalog, RedialConfig(like_weight=w[0], mention_weight=w[1]))
          for w in CF_WEIGHTS}
    search: list[dict] = []
    best: dict[str, tuple[float, RedialConfig, dict]] = {}  # per encoder: fused optimum
    text_rows: dict[str, tuple[RedialConfig, dict, dict]] = {}
    preps = {}
    for name in encoder_names:
        encoder = load_encoder(artifacts, name)
        vectors = item_vectors(catalog, encoder, artifacts / f"items-{name}")
        top = None
        for n_turns in N_TURNS:
            prep = prepare(samples, catalog, encoder, vectors, n_turns)
            cfg = RedialConfig(encoder=name, n_turns=n_turns)
            res, curves = evaluate_scores(prep, fused_scores(prep, None, cf_model.popularity, cfg))
            search.append({"config": asdict(cfg), "objective": objective(res)})
            if top is None or objective(res) > objective(top[1]):
                top = (cfg, res, curves)
                preps[name] = prep
        text_rows[name] = top
        prep = preps[name]
        for (lw, mw), alpha, pop, ent in itertools.product(CF_WEIGHTS, ALPHAS, POP_WEIGHTS, ENTITY_WEIGHTS):
            cfg = replace(top[0], alpha=alpha, pop_weight=pop, like_weight=lw, mention_weight=mw,
                          entity_weight=ent)
            res, _ = evaluate_scores(prep, fused_scores(prep, cf[(lw, mw)], cf_model.popularity, cfg))
            search.append({"config": asdict(cfg), "objective": objective(res)})
            if name not in best or objective(res) > best[name][0]:
                best[name] = (objective(res), cfg, res)
        print(f"{name}: text {objective(top[1]):.3f}, fused {best[name][0]:.3f} with {best[name][1]}", flush=True)

    chosen_name = max(best, key=lambda n: best[n][0])
    chosen = best[chosen_name][1]
    write_manifest(artifacts, SYSTEM_KIND,
                   {"catalog": catalog.fingerprint(), "train": _sha(data_dir / "train.jsonl"),
                    "valid": _sha(data_dir / "valid.jsonl")},
                   {"chosen": asdict(chosen), "selection": "max mean of R@10, R@50 in both protocols on valid.jsonl",
                    "grid": {"n_turns": N_TURNS, "alpha": ALPHAS, "pop_weight": POP_WEIGHTS,
                             "cf_weights": CF_WEIGHTS, "entity_weight": ENTITY_WEIGHTS,
                             "encoders": encoder_names},
                    "search": search})

    # Rows of the report, each re-scored with its curves.
    rows, curves = {}, {}
    for name in encoder_names:
        cfg, res, crv = text_rows[name]
        label = "zero-shot base encoder" if name == "base" else f"fine-tuned ({name.removeprefix('encoder-')})"
        rows[label], curves[label] = {"config": asdict(cfg), **res}, crv
    for name in encoder_names:
        cfg = best[name][1]
        label = ("zero-shot base + CF" if name == "base" else f"fine-tuned ({name.removeprefix('encoder-')}) + CF")
        res, crv = evaluate_scores(preps[name], fused_scores(preps[name], cf[(cfg.like_weight, cfg.mention_weight)],
                                                             cf_model.popularity, cfg))
        rows[label], curves[label] = {"config": asdict(cfg), **res}, crv
    cfg = replace(best[chosen_name][1], alpha=0.0)
    res, crv = evaluate_scores(preps[chosen_name], fused_scores(
        preps[chosen_name], cf[(cfg.like_weight, cfg.mention_weight)], cf_model.popularity, cfg))
    rows["CF + popularity only"], curves["CF + popularity only"] = {"config": asdict(cfg), **res}, crv

    # The stable command's path, timed: what `launch.py evaluate redial --artifacts` prints.
    cli = evaluate_redial(data_dir / "valid.jsonl", data_dir, artifacts)
    ft_times = {}
    for name in encoder_names[1:]:
        m = json.loads((artifacts / name / "manifest.json").read_text())["config"]
        ft_times[name] = {"seconds": m["seconds"], "steps": m["steps"], "best_step": m["best_step"],
                          "history": m["history"], "trainable": m["finetune"]["trainable"],
                          "n_trainable_params": m["n_trainable_params"], "n_train_pairs": m["n_train_pairs"]}
    report = {"dataset": "ReDial valid.jsonl (tuned and reported on the same split)",
              "n_valid_dialogues": len({s.dialogue_id for s in samples}), "rows": rows,
              "chosen": asdict(chosen), "cli_check": {k: cli[k] for k in ("standard", "new_items", "seconds")},
              "finetune": ft_times, "published": PUBLISHED,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "recall_curves": {n: {p: c[p].recall_curve(CURVE_KS) for p in c} for n, c in curves.items()}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "redial.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "redial.md").write_text(markdown(report))
    plot(report, RESULTS / "redial_recall_at_k.png")
    return report


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def markdown(report: dict) -> str:
    lines = ["# ReDial benchmark (valid.jsonl)", "",
             "Produced by `python -m benchmarks.redial`. Every recommender turn that mentions a catalog "
             "movie is a sample; each mentioned movie a target; ranking over all 6,924 movies. "
             "All knobs were tuned on valid.jsonl, the split reported here; published systems "
             "report the official test split and train on ~10k dialogues (we have 1,513).", ""]
    for proto in ("standard", "new_items"):
        lines += [f"## {proto}", "", "| system | R@1 | R@10 | R@50 | MRR@10 | NDCG@10 | targets |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in report["rows"].items():
            m = row[proto]
            lines.append(f"| {name} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | {m['recall@50']:.3f} | "
                         f"{m['mrr@10']:.3f} | {m['ndcg@10']:.3f} | {m['n_targets']} |")
        for name, (r1, r10, r50) in report["published"][proto].items():
            fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
            lines.append(f"| *{name} (published, test)* | {fmt(r1)} | {fmt(r10)} | {fmt(r50)} | – | – | – |")
        lines.append("")
    lines += ["## Chosen configuration", "", f"`{json.dumps(report['chosen'])}`", "",
              f"`launch.py evaluate redial --artifacts` on valid.jsonl took {report['cli_check']['seconds']:.0f} s "
              f"({report['machine']['cpus']} CPUs).", "", "## Fine-tuning", ""]
    for name, f in report["finetune"].items():
        lines.append(f"- {name}: trainable {f['trainable']} ({f['n_trainable_params']:,} parameters), "
                     f"{f['steps']} steps in {f['seconds']:.0f} s, best step {f['best_step']}; "
                     f"early-stopping Recall@10 by step: "
                     + ", ".join(f"{step}: {value:.3f}" for step, value in f["history"]))
    lines += ["", "![Recall@k](redial_recall_at_k.png)", ""]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, proto in zip(axes, ("standard", "new_items")):
        for name, c in report["recall_curves"].items():
            ax.plot(CURVE_KS, c[proto], label=name)
        for name, (_, r10, r50) in report["published"][proto].items():
            if name in ("UniCRS", "ReFICR"):  # published points (test split), black markers
                ax.scatter([10, 50], [r10, r50], marker="x" if name == "UniCRS" else "^", color="black", zorder=3)
                ax.annotate(f"{name} (published)", (50, r50), xytext=(4, 4), textcoords="offset points",
                            fontsize=8)
        ax.set_title(f"ReDial valid — {proto}")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@k")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=None, help="ReDial folder (default ../shared/data/redial)")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--steps", type=int, default=None, help=f"max fine-tuning steps (default: {STEPS})")
    p.add_argument("--trainable", nargs="+", default=["top:1", "top:2", "all"])
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--train-only", action="store_true")
    args = p.parse_args(argv)
    from retrieval.redial import default_data_dir

    data_dir = args.data_dir or default_data_dir()
    for trainable in args.trainable:
        name = "encoder-" + trainable.replace(":", "")
        steps = args.steps or STEPS.get(trainable, 400)  # 400: like top:2 for other top:K
        train_encoder(data_dir, args.artifacts / name, steps, trainable, args.retrain)
    if args.train_only:
        return 0
    encoders = ["base"] + ["encoder-" + t.replace(":", "") for t in args.trainable]
    report = tune_and_report(data_dir, args.artifacts, encoders)
    print(f"wrote {RESULTS / 'redial.json'}, redial.md, redial_recall_at_k.png; "
          f"chosen {report['chosen']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
