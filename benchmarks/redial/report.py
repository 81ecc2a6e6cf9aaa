"""The ReDial report's Markdown and Recall@k plot, from the JSON that __main__ writes."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def layers(trainable: str) -> str:
    """A fine-tune's `trainable` in words: 'top:3' -> 'Top 3 layers'."""
    from retrieval.finetune import top_layers

    k = top_layers(trainable)
    return f"Top {k} layers" if k is not None else "All layers"


def markdown(report: dict) -> str:
    lines = ["# ReDial benchmark (valid.jsonl)", "",
             "Produced by `python -m benchmarks.redial`. Every recommender turn that names a catalog movie is a "
             "sample, each named movie a target, ranked among all 6,924 movies by the pipeline that "
             "`launch.py --catalog redial` serves (or the variant a row names). Components were fitted on "
             f"{report['n_fit_dialogues']} dialogues of train.jsonl; every weight, the encoder and whether the second "
             f"stage runs were chosen on the other {report['n_dev_dialogues']} (dev); valid.jsonl "
             f"({report['n_valid_samples']} samples) was touched by no choice. " + refit_words(report) +
             "In `new_items` the movies mentioned so "
             "far are left out of the candidates, as the chat leaves out what it has already shown or heard. "
             "Published systems report the official test split and train on ~10k dialogues.", ""]
    for proto in ("standard", "new_items"):
        lines += [f"## {proto}", "", "| system | R@1 | R@10 | R@50 | MRR@10 | NDCG@10 | targets |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in report["rows"].items():
            m = row[proto]
            lines.append(f"| {name} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | {m['recall@50']:.3f} | "
                         f"{m['mrr@10']:.3f} | {m['ndcg@10']:.3f} | {m['n_targets']} |")
        for name, (r1, r10, r50) in report["published"][proto].items():
            lines.append(f"| *{name} (published, test)* | {_fmt(r1)} | {_fmt(r10)} | {_fmt(r50)} | – | – | – |")
        lines.append("")
    lines += goals(report)
    v, f = report["validation"], report["finetune"]
    refit = report.get("refit")
    encoder = (f"`{refit['encoder']}` (the `{report['chosen_encoder']}` recipe rerun on all of train.jsonl)" if refit
               else f"`{report['chosen_encoder']}`")
    lines += ["## The served pipeline", "", f"Encoder: {encoder}. Config:", "",
              f"`{json.dumps(report['config'])}`", "",
              "Dev objective (mean of R@10 and R@50, both protocols): first stage "
              f"{v['dev_objective']['first_stage']:.3f}, with the second stage "
              f"{v['dev_objective']['second_stage']:.3f}.", "",
              f"`launch.py evaluate redial --artifacts artifacts/redial` on valid.jsonl took "
              f"{report['cli_check']['seconds']:.0f} s ({report['machine']['cpus']} CPUs).", "",
              "## Fine-tuning", "",
              f"{layers(f.get('trainable', 'all'))} ({f['n_trainable_params']:,} parameters) on "
              f"{f['n_train_pairs']:,} pairs from the fit dialogues: {f['steps']} steps in {f['seconds']:.0f} s, "
              f"best step {f['best_step']}; early-stopping "
              "Recall@10 by step: " + ", ".join(f"{s}: {x:.3f}" for s, x in f["history"]) + ".", ""]
    r = (report.get("refit") or {}).get("finetune")
    if r:
        lines += [f"Refitted on all of train.jsonl (the served encoder): {r['n_train_pairs']:,} pairs, {r['steps']} "
                  f"steps in {r['seconds']:.0f} s, best step {r['best_step']}; early-stopping Recall@10 by step: "
                  + ", ".join(f"{s}: {x:.3f}" for s, x in r["history"]) + ".", ""]
    s2 = v.get("second_stage") or {}
    if s2:
        lines += ["## Second stage", "",
                  f"A reranker over each request's best candidates, trained on {s2.get('n_pools', 0):,} out-of-fold "
                  f"pools of the fit dialogues ({s2.get('folds')} parts by dialogue; for each part the encoder and "
                  f"every component are refitted without it) in {s2.get('seconds', 0):.0f} s of training after "
                  "pooling." + (" The served system keeps it over its refitted components." if refit else ""), ""]
    lines += ["![Recall@k](redial_recall_at_k.png)", ""]
    return "\n".join(lines)


def refit_words(report: dict) -> str:
    """What the served system was fitted on, when it was refitted after the choices (step 6)."""
    refit = report.get("refit")
    if not refit:
        return ""
    return (f"With every choice made, the served system reruns the chosen encoder's recipe and refits every "
            f"component on all {refit['n_dialogues']:,} dialogues of train.jsonl (rows \"refitted on all ...\"; "
            "decided before valid.jsonl was scored); the other rows vary the system fitted on fit alone. ")


def goals(report: dict) -> list[str]:
    """The served row against the goals, with 95% intervals over valid's dialogues."""
    if "goals" not in report:
        return []
    served = report["served_row"]
    lines = ["## Goals", "", f"The served pipeline (row \"{served}\") on valid.jsonl, with 95% bootstrap intervals "
             "that resample its dialogues (each with all its samples; 1,000 draws):", "",
             "| protocol | metric | goal | valid | 95% interval | reached |", "|---|---|---|---|---|---|"]
    row = report["rows"][served]
    for proto, cutoffs in report["goals"].items():
        for metric, goal in zip(("recall@10", "recall@50"), cutoffs):
            value, (lo, hi) = row[proto][metric], row["intervals"][proto][metric]
            verdict = "yes" if value >= goal else ("no (the goal lies inside the interval)" if lo <= goal <= hi
                                                   else "no")
            lines.append(f"| {proto} | {metric} | {goal:.2f} | {value:.3f} | {lo:.3f} – {hi:.3f} | {verdict} |")
    return lines + [""]


def plot(report: dict, path: Path, ks: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharey=True)
    colours = plt.get_cmap("tab20").colors  # 20 distinct colours: one per row
    for ax, proto in zip(axes, ("standard", "new_items")):
        for i, (name, curve) in enumerate(report["recall_curves"].items()):
            served = "(served)" in name  # the pipeline the chat runs: drawn bold
            ax.plot(ks, curve[proto], label=name, color="black" if served else colours[i % len(colours)],
                    linewidth=2.5 if served else 1.2)
        for name, (_, r10, r50) in report["published"][proto].items():
            if name in ("UniCRS", "ReFICR"):  # published points (test split), black markers
                ax.scatter([10, 50], [r10, r50], marker="x" if name == "UniCRS" else "^", color="black", zorder=3)
                ax.annotate(f"{name} (published)", (50, r50), xytext=(4, 4), textcoords="offset points", fontsize=8)
        ax.set_title(f"ReDial valid — {proto}")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@k")
    # below the plots: inside, the legend of some 15 rows hid the curves and the published points
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
