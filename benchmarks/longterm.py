"""Long-term feedback loops: `python -m benchmarks.longterm --rounds 20 --users 200`.

Simulated traffic (benchmarks/simulator.py) and learning from its logbook (bot/offline/learn.py
reads it, fusion/learn.py refits) alternate for N rounds, per arm. Round r of an arm:

1. learning (arms with learning, r > 1): every session the arm logged in rounds < r is
   read back from its logbooks, consent rules and all, turned into CF interactions
   (`log_interactions`) and the CF model the pipeline config names is refitted on the base
   ratings plus them (`refit`): seconds, no encoder fine-tuning per round;
2. evaluation: each user's fixed request (its liked genres, the same words every round;
   as a known user once the CF model has learned them) through the real Bot, the top 10
   scored against the user's held-out liked items: NDCG@10, Recall@10;
3. traffic: one logged session per user (`turns` messages, reactions as its ratings say);
   exposure over every list shown: catalog coverage, Gini of exposure, share of slots
   taken by the top 1% most rated items, novelty (bits; fusion/diversity.py).

Users: the cold-start benchmark's test users (fusion/coldstart.py `split_users`, seed 0):
never seen by the encoder's fine-tuning or the tuning. CF starts from the other training
users' ratings only. Arms share the users, seeds and base pipeline (the shipped artifacts'
encoder, text index and tuned config) and differ in fuser, MMR and learning.

Seeded and resumable: each (arm, round) writes `<state>/<arm>/round_NN.json` (and its
logbook) when done; a rerun skips finished rounds and redoes an unfinished one. Writes
benchmarks/results/longterm.{json,md} and longterm_<metric>.png (rounds on x, one line
per arm, 95% bootstrap intervals over users).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from benchmarks.coldstart import rounded
from benchmarks.simulator import SimConfig, SimUser, Simulator, make_users, opening
from bot.conversation.chat import Bot
from bot.offline.learn import read_logbook
from bot.service.logbook import Logbook
from fusion.coldstart import ranking_metrics, split_users
from fusion.config import PipelineConfig
from fusion.diversity import catalog_coverage, exposure, gini, novelty, popular_share, top_share_rows
from fusion.cooccur import CoOccurrence
from fusion.learn import log_interactions, new_to, refit, session_baskets
from fusion.logbook_term import LOGBOOK, WeightChoice, choose_weight, next_like_cases, with_logbook
from fusion.logged import append
from fusion.recommender import Recommender
from fusion.terms import CoOccurTerm
from retrieval.records import Interactions, LoggedSession

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("ndcg@10", "recall@10", "coverage", "gini", "top1%_share", "novelty")
LABELS = {"ndcg@10": "NDCG@10 (held-out likes)", "recall@10": "Recall@10 (held-out likes)",
          "coverage": "catalog coverage of the round's lists", "gini": "Gini of exposure (higher = narrower)",
          "top1%_share": "share of shown slots from the top-1% most rated", "novelty": "novelty (bits)"}
N_BOOT = 200  # bootstrap resamples of users per (arm, round): enough for 2.5/97.5 percentiles
CUTOFF = 10
MAX_CASES = 100  # held-out likes the "logbook" weight is chosen on per learning round (a second or two)
STATIC = "adaptive+mmr/static"  # the reference arm: the shipped pipeline, never learning
LEARN = "adaptive+mmr/learn"  # the shipped pipeline learning as python -m bot.offline.learn does
CF_ONLY = "adaptive+mmr/learn-cf"  # the same, its CF refitted but no logbook term


def arms(shipped: PipelineConfig, logbook_term: bool = True) -> dict[str, tuple[PipelineConfig, bool, bool]]:
    """Arm name -> (pipeline config, learns from its logs, serves the logbook term when it
    learns). The shipped tuned pipeline (adaptive α, its MMR λ) with and without learning
    and without MMR, and fixed α; with `logbook_term`, the learning arms learn as `python
    -m bot.offline.learn` does (CF refit and the logbook term), and CF_ONLY refits CF alone, so
    the term's share of what learning does can be read apart."""
    mmr = shipped.mmr_lambda if shipped.mmr_lambda is not None else 0.8  # 0.8: a mild λ when none was tuned
    adaptive = shipped.with_(mmr_lambda=mmr)
    out = {
        LEARN: (adaptive, True, logbook_term),
        STATIC: (adaptive, False, False),
        "adaptive/learn": (adaptive.with_(mmr_lambda=None), True, logbook_term),
        "alpha0.3/learn": (shipped.with_(fuser=None, alpha=0.3, mmr_lambda=None), True, logbook_term),
        "alpha0.7/learn": (shipped.with_(fuser=None, alpha=0.7, mmr_lambda=None), True, logbook_term),
    }
    if logbook_term:
        out[CF_ONLY] = (adaptive, True, False)
    return out


def folder_name(arm: str) -> str:
    return arm.replace("/", "__").replace("+", "_")


def logged_so_far(arm_dir: Path, round_no: int) -> list[list[LoggedSession]]:
    """The sessions of each of the arm's rounds before `round_no`, as the learning command
    reads them from its logbooks (consent rules included)."""
    return [read_logbook(arm_dir / f"round_{r:02d}.sqlite")[0] for r in range(1, round_no)]


def with_logbook_term(rec: Recommender, by_round: list[list[LoggedSession]], round_no: int
                      ) -> tuple[Recommender, WeightChoice]:
    """`rec` with the "logbook" term as `python -m bot.offline.learn` serves it: the co-occurrence
    of the items each earlier session liked together, its weight chosen on held-out
    likes (fusion/logbook_term.py). Held out: the last round's sessions, against the
    co-occurrence of the rounds before it; at most MAX_CASES of their likes (seeded by the
    round). Their people are ranked as new visitors: `rec`'s CF has learned that round
    too, and their rated history would hold the very like being ranked."""
    catalog = rec.catalog
    held, earlier = by_round[-1], [s for found in by_round[:-1] for s in found]
    cases = next_like_cases(held, catalog)
    if len(cases) > MAX_CASES:
        keep = np.random.default_rng(round_no).choice(len(cases), MAX_CASES, replace=False)
        cases = [cases[i] for i in sorted(keep.tolist())]
    trial = CoOccurTerm(LOGBOOK, CoOccurrence.fit(session_baskets(earlier, catalog), len(catalog)))
    choice = choose_weight(rec, trial, cases, cutoff=CUTOFF)
    every = [s for found in by_round for s in found]
    term = CoOccurTerm(LOGBOOK, CoOccurrence.fit(session_baskets(every, catalog), len(catalog)))
    return with_logbook(rec, term, choice.weight), choice


def evaluate(bot: Bot, users: list[SimUser], sim: SimConfig) -> tuple[list[float], list[float]]:
    """Per user (Recall@10, NDCG@10) of one unlogged turn: its fixed request (seeded by the
    user alone, no person named), as a known user when the CF model has learned them."""
    import random

    recalls, ndcgs = [], []
    for u in users:
        text = opening(u, bot.catalog, random.Random(f"eval/{sim.seed}/{u.user_id}"), sim, person=False)
        key = f"participant:{u.participant_id}"
        session = bot.new_session(f"eval-{u.user_id}", key if bot.recommender.cf.knows_user(key) else None)
        turn = bot.respond(text, session)
        rows = np.array([bot.catalog.row(it.recommendation.item.item_id) for it in turn.items], np.int64)
        recall, ndcg, _ = ranking_metrics(rows, u.targets, CUTOFF)
        recalls.append(recall)
        ndcgs.append(ndcg)
    return recalls, ndcgs


def run_round(arm: str, config: PipelineConfig, learns: bool, round_no: int, base_bot: Bot,
              base_log: Interactions, users: list[SimUser], sim: SimConfig, state: Path,
              logbook_term: bool = True) -> dict:
    arm_dir = state / folder_name(arm)
    arm_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base_rec = base_bot.recommender
    catalog = base_rec.catalog
    rec = Recommender(base_rec.retriever, base_rec.cf, config)
    learned, logbook = 0, None
    if learns and round_no > 1:
        by_round = logged_so_far(arm_dir, round_no)
        more = new_to(base_log, log_interactions([s for found in by_round for s in found], catalog))
        learned = len(more)
        rec = refit(rec, append(base_log, more))
        if logbook_term:
            rec, logbook = with_logbook_term(rec, by_round, round_no)
    t_learn = time.perf_counter() - t0
    bot = base_bot.with_recommender(rec)  # the catalog's readers shared by every arm-round
    recalls, ndcgs = evaluate(bot, users, sim)
    t_eval = time.perf_counter() - t0 - t_learn
    log_path = arm_dir / f"round_{round_no:02d}.sqlite"
    for p in arm_dir.glob(f"round_{round_no:02d}.sqlite*"):  # an unfinished earlier try
        p.unlink()
    lists: list[list[list[int]]] = []
    likes = dislikes = 0
    with Logbook(log_path, durable=False) as book:  # redone whole when the round is redone
        simulator = Simulator(bot, book, sim)
        for u in users:
            res = simulator.session(u, f"r{round_no:02d}-{u.user_id}", seed=round_no)
            lists.append([list(map(int, rows)) for rows in res.lists])
            likes += len(res.liked)
            dislikes += len(res.disliked)
        if hasattr(simulator.service.logbook, "flush"):
            simulator.service.logbook.flush()
    out = {"arm": arm, "round": round_no, "learns": learns, "learned_interactions": learned,
           "logbook": None if logbook is None else logbook.to_dict(),
           "recall": recalls, "ndcg": ndcgs, "lists": lists, "likes": likes, "dislikes": dislikes,
           "seconds": {"learn": round(t_learn, 2), "eval": round(t_eval, 2),
                       "traffic": round(time.perf_counter() - t0 - t_learn - t_eval, 2),
                       "total": round(time.perf_counter() - t0, 2)}}
    tmp = arm_dir / f"round_{round_no:02d}.json.tmp"
    tmp.write_text(json.dumps(out))
    tmp.replace(arm_dir / f"round_{round_no:02d}.json")  # written last: the round counts as done
    return out


class RoundStats:
    """One (arm, round)'s metrics for any multiset of its users (`values(idx)`): accuracy as
    the mean over users, exposure recomputed on their pooled lists with fusion/diversity.py's
    functions (novelty: the mean over lists of each list's mean)."""

    def __init__(self, result: dict, n_items: int, counts: np.ndarray, n_users_base: int,
                 popular: np.ndarray) -> None:
        per_user = [[np.asarray(rows, np.int64) for rows in lists if len(rows)] for lists in result["lists"]]
        self.n, self.n_items, self.popular = len(per_user), n_items, popular
        self.recall, self.ndcg = np.asarray(result["recall"]), np.asarray(result["ndcg"])
        self.flat = [np.concatenate(lists) if lists else np.zeros(0, np.int64) for lists in per_user]
        nov = [np.array([novelty(r, counts, n_users_base) for r in lists]) for lists in per_user]
        self.nov_sum = np.array([v.sum() for v in nov])
        self.n_lists = np.array([len(v) for v in nov])

    def values(self, idx: np.ndarray) -> dict[str, float]:
        lists = [self.flat[i] for i in idx]
        return {"ndcg@10": float(self.ndcg[idx].mean()), "recall@10": float(self.recall[idx].mean()),
                "coverage": catalog_coverage(lists, self.n_items), "gini": gini(exposure(lists, self.n_items)),
                "top1%_share": popular_share(lists, self.popular),
                "novelty": float(self.nov_sum[idx].sum() / max(self.n_lists[idx].sum(), 1))}


def interval(full: float, boots: list[float]) -> dict:
    """Mean and 95% bootstrap interval, the bootstrap spread centred on the full-sample
    value: resampling users with replacement repeats some of them, which by itself lowers
    coverage and raises Gini (fewer distinct users' lists), so uncentred percentiles of
    those would not even hold the full-sample value."""
    shift = float(np.mean(boots)) - full
    return {"mean": full, "lo": float(np.percentile(boots, 2.5)) - shift, "hi": float(np.percentile(boots, 97.5)) - shift}


def round_figures(stats: RoundStats, rng: np.random.Generator) -> dict:
    """Each metric's mean and 95% bootstrap interval over users."""
    full = stats.values(np.arange(stats.n))
    boots: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(N_BOOT):
        for m, v in stats.values(rng.integers(0, stats.n, stats.n)).items():
            boots[m].append(v)
    return {m: interval(full[m], boots[m]) for m in METRICS}


def paired(a: RoundStats, b: RoundStats, rng: np.random.Generator) -> dict:
    """Every metric's difference a − b on the same users (both rounds ran the same users),
    with a 95% bootstrap interval over users resampled together."""
    idx0 = np.arange(a.n)
    full_a, full_b = a.values(idx0), b.values(idx0)
    boots: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(N_BOOT):
        idx = rng.integers(0, a.n, a.n)
        va, vb = a.values(idx), b.values(idx)
        for m in METRICS:
            boots[m].append(va[m] - vb[m])
    return {m: interval(full_a[m] - full_b[m], boots[m]) for m in METRICS}


def plot(report: dict, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, arm in enumerate(report["arms"]):
        rows = report["rounds"][arm]
        x = [r["round"] for r in rows]
        ax.plot(x, [r[metric]["mean"] for r in rows], marker="o", ms=3, label=arm, color=f"C{i}")
        ax.fill_between(x, [r[metric]["lo"] for r in rows], [r[metric]["hi"] for r in rows], alpha=0.12,
                        color=f"C{i}")
    ax.set_xlabel("round (traffic, then learning from it)")
    ax.set_ylabel(LABELS[metric])
    ax.set_title(f"{LABELS[metric]} over rounds ({report['users']} simulated users; 95% bootstrap CI)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(c: dict, digits: int = 3) -> str:
    return f"{c['mean']:.{digits}f} [{c['lo']:.{digits}f}, {c['hi']:.{digits}f}]"


def findings(report: dict) -> list[str]:
    """Plain-words reading of the figures, each sentence built from the numbers above it."""
    lines = []
    rounds = report["rounds"]
    first, last = report["round_numbers"][0], report["round_numbers"][-1]
    for arm in report["arms"]:
        a, b = rounds[arm][0], rounds[arm][-1]
        lines.append(f"- **{arm}**: NDCG@10 {a['ndcg@10']['mean']:.3f} (round {first}) → {b['ndcg@10']['mean']:.3f} "
                     f"(round {last}); Recall@10 {a['recall@10']['mean']:.3f} → {b['recall@10']['mean']:.3f}; "
                     f"coverage {a['coverage']['mean']:.3f} → {b['coverage']['mean']:.3f}; Gini "
                     f"{a['gini']['mean']:.3f} → {b['gini']['mean']:.3f}; top-1% share "
                     f"{a['top1%_share']['mean']:.3f} → {b['top1%_share']['mean']:.3f}; novelty "
                     f"{a['novelty']['mean']:.2f} → {b['novelty']['mean']:.2f} bits.")
    lines += ["", "Paired differences on the same users (95% bootstrap intervals over users):", "",
              "| comparison | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for name, d in report["paired"].items():
        lines.append(f"| {name} | " + " | ".join(fmt(d[m], 2 if m == 'novelty' else 3) for m in METRICS) + " |")
    lines += ["", *verdicts(report)]
    return lines


def sign(d: dict) -> str:
    return "above zero" if d["lo"] > 0 else "below zero" if d["hi"] < 0 else "includes zero"


def verdicts(report: dict) -> list[str]:
    """The plain-words answers, from the paired intervals only: does learning raise
    accuracy round over round (last round against round 1), does it narrow exposure toward
    popular items (against the never-learning arm in the same round, which had the same
    users and traffic seeds: what changes there between rounds is the traffic, not
    learning), which arm keeps both (accuracy up, top-1% share and Gini not above the
    never-learning arm's)."""
    out, keep = [], []
    pairs = report["paired"]
    words = {"above zero": "up", "below zero": "down", "includes zero": "no clear change"}
    for arm in report["arms"]:
        d = pairs.get(f"{arm}: last round − round 1")
        if d is None:
            continue
        acc = {"above zero": "rises", "below zero": "falls", "includes zero": "shows no clear change"}[sign(d["ndcg@10"])]
        line = f"- `{arm}`: accuracy {acc} from round 1 to the last round (NDCG@10 {fmt(d['ndcg@10'])})"
        vs = pairs.get(f"{arm} − {STATIC} (last round)")
        if vs is not None:
            line += (f"; against `{STATIC}` in the last round: NDCG@10 {fmt(vs['ndcg@10'])}, top-1% share "
                     f"{fmt(vs['top1%_share'])} ({words[sign(vs['top1%_share'])]}), Gini {fmt(vs['gini'])} "
                     f"({words[sign(vs['gini'])]}), coverage {fmt(vs['coverage'])} ({words[sign(vs['coverage'])]}), "
                     f"novelty {fmt(vs['novelty'], 2)} bits ({words[sign(vs['novelty'])]})")
            if acc == "rises" and sign(vs["top1%_share"]) != "above zero" and sign(vs["gini"]) != "above zero":
                keep.append(arm)
        out.append(line + ".")
    learn = LEARN
    vs = pairs.get(f"{learn} − {STATIC} (last round)")
    if vs is not None:
        a, b = report["rounds"][learn], report["rounds"][STATIC]
        more = {"above zero": "more", "below zero": "less", "includes zero": "about as much"}
        diff = {"above zero": "higher", "below zero": "lower", "includes zero": "no clearly different"}
        text = (f"**In short.** Over {len(a)} rounds, learning from its own logs took the shipped pipeline's "
                f"NDCG@10 from {a[0]['ndcg@10']['mean']:.3f} to {a[-1]['ndcg@10']['mean']:.3f} (never learning: "
                f"{b[-1]['ndcg@10']['mean']:.3f}; paired difference {sign(vs['ndcg@10'])}). Its lists then gave "
                f"{more[sign(vs['top1%_share'])]} of their slots to the top-1% most rated items "
                f"({a[-1]['top1%_share']['mean']:.3f} against {b[-1]['top1%_share']['mean']:.3f}), with "
                f"{diff[sign(vs['novelty'])]} novelty ({a[-1]['novelty']['mean']:.2f} against "
                f"{b[-1]['novelty']['mean']:.2f} bits), {diff[sign(vs['coverage'])]} catalog coverage and "
                f"{diff[sign(vs['gini'])]} Gini of exposure.")
        if (sign(vs["ndcg@10"]) == "above zero" and sign(vs["top1%_share"]) == "above zero"
                and sign(vs["coverage"]) == "includes zero" and sign(vs["gini"]) == "includes zero"):
            text += (" The gain came with lists leaning toward popular items, not with fewer distinct items "
                     "shown overall.")
        out.insert(0, text + "\n")
    t = pairs.get(f"{LEARN} − {CF_ONLY} (last round)")
    if t is not None:
        a, b = report["rounds"][LEARN][-1], report["rounds"][CF_ONLY][-1]
        out.append(f"- The logbook term's share (`{LEARN}` against `{CF_ONLY}`, the same CF refit without it, last "
                   f"round): NDCG@10 {a['ndcg@10']['mean']:.3f} against {b['ndcg@10']['mean']:.3f}, paired difference "
                   f"{fmt(t['ndcg@10'])} ({words[sign(t['ndcg@10'])]}); top-1% share {fmt(t['top1%_share'])} "
                   f"({words[sign(t['top1%_share'])]}); novelty {fmt(t['novelty'], 2)} bits "
                   f"({words[sign(t['novelty'])]}).")
    s = pairs.get(f"{STATIC}: last round − round 1")
    if s is not None:
        out.append(f"- Between round 1 and the last round the never-learning arm's own exposure moves too (Gini "
                   f"{fmt(s['gini'])}, coverage {fmt(s['coverage'])}): that part comes from the traffic of the "
                   "round, not from learning.")
    if any(f"{a} − {STATIC} (last round)" in pairs for a in report["arms"]):
        out.append("- Arms whose accuracy rose without their lists concentrating on popular items more than the "
                   "never-learning arm's: " + (", ".join(f"`{a}`" for a in keep) if keep else "none in this run") + ".")
    return out


def weight_note(res: dict) -> str:
    """", logbook weight 0.1" for a round that chose one."""
    return "" if not res.get("logbook") else f", logbook weight {res['logbook']['weight']:g}"


def run_note(run: dict) -> str:
    return (f"`{run['command']}` started {run['started']}: {run['wall_seconds']:.0f} s, {run['computed_rounds']} "
            f"arm-rounds, load average {run['load_average']} at its start")


def markdown(report: dict) -> str:
    lines = ["# Long-term feedback loop (simulated MovieLens users)", "", report["protocol"], "",
             f"Command: `{report['command']}`", "",
             f"Wall time: {report['wall_seconds']:.0f} s over the invocations that computed the rounds "
             f"({'; '.join(run_note(r) for r in report['runs'])}); {report['sum_round_seconds']:.0f} s summed "
             "over the arm-rounds themselves. Each learning round is a CF refit on the logbooks so far"
             + (" and the logbook term's co-occurrence and weight" if report["settings"].get("logbook_term") else "")
             + " (mean seconds per arm in the cost table below); no encoder fine-tuning per round.", "",
             "Arms: " + "; ".join(f"`{a}` = {d}" for a, d in report["arm_descriptions"].items()), "",
             "## What feedback does (read from the figures below)", "", *findings(report), ""]
    for m in METRICS:
        digits = 2 if m == "novelty" else 3
        lines += [f"## {LABELS[m]} (mean [95% bootstrap CI over users])", "",
                  "| round | " + " | ".join(report["arms"]) + " |", "|---|" + "---|" * len(report["arms"])]
        for i, r in enumerate(report["round_numbers"]):
            lines.append(f"| {r} | " + " | ".join(fmt(report["rounds"][a][i][m], digits) for a in report["arms"]) + " |")
        lines += ["", f"![{m}](longterm_{m.replace('@', '').replace('%', 'pct')}.png)", ""]
    lines += ["## Cost per arm-round (seconds, mean over rounds)", "",
              "| arm | learn (refit) | eval | traffic | total | learned interactions (last round) | "
              "logbook term weight per round |",
              "|---|---|---|---|---|---|---|"]
    for a in report["arms"]:
        s = report["seconds"][a]
        weights = [r.get("logbook_weight") for r in report["rounds"][a]]
        chosen = ", ".join(f"{w:g}" for w in weights if w is not None) or "—"
        lines.append(f"| {a} | {s['learn']:.1f} | {s['eval']:.1f} | {s['traffic']:.1f} | {s['total']:.1f} | "
                     f"{report['rounds'][a][-1]['learned_interactions']} | {chosen} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--users", type=int, default=200, help="simulated users (the cold-start test users, at most 200)")
    p.add_argument("--turns", type=int, default=3, help="messages per simulated session")
    p.add_argument("--accept", type=float, default=0.8, help="chance a user reacts to an item it has rated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", default="", help="comma-separated subset of the arms (default: all)")
    p.add_argument("--artifacts", type=Path, default=ROOT / "artifacts" / "movielens",
                   help="the shipped artifacts: encoder, text index and tuned config (read only)")
    p.add_argument("--state", type=Path, default=ROOT / "artifacts" / "longterm",
                   help="per-round state and logbooks (resumable)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--fresh", action="store_true", help="delete --state first")
    p.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (shared machine: 1)")
    p.add_argument("--no-logbook-term", action="store_true",
                   help="learning arms refit CF only, without the logbook's co-occurrence term (bot.offline.learn serves it)")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits
    import torch

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    from fusion.build import load_tuned, served_retriever
    from fusion.cf import make_cf
    from fusion.tune import N_TEST, N_VALIDATION, SEED
    from retrieval.encoder import MemoEncoder
    from retrieval.movielens import load_movielens

    start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    command = "python -m benchmarks.longterm " + " ".join(argv if argv is not None else sys.argv[1:])
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    catalog, interactions = load_movielens()
    split = split_users(catalog, interactions, N_TEST, N_VALIDATION, SEED)
    if not 1 <= args.users <= len(split.test):
        p.error(f"--users must be 1..{len(split.test)}")
    sim = SimConfig(turns=args.turns, accept=args.accept, seed=args.seed)
    users = make_users(catalog, interactions, [u.user_id for u in split.test[:args.users]], sim)
    retriever = served_retriever(catalog, args.artifacts)  # the bot's encoder, items and query precision
    # every arm reads the same evaluation requests, openings and follow-ups: encode each once
    retriever.query_encoder = MemoEncoder(retriever.query_encoder)
    shipped = load_tuned(args.artifacts / "fusion", catalog, interactions) or PipelineConfig()
    all_arms = arms(shipped, not args.no_logbook_term)
    chosen = [a.strip() for a in args.arms.split(",") if a.strip()] or list(all_arms)
    unknown = [a for a in chosen if a not in all_arms]
    if unknown:
        p.error(f"unknown arm(s) {unknown}; arms: {', '.join(all_arms)}")
    logbook_term = not args.no_logbook_term
    settings = {"users": args.users, "turns": args.turns, "accept": args.accept, "seed": args.seed,
                "sim": asdict(sim), "shipped": shipped.to_dict(), "logbook_term": logbook_term}
    if args.fresh and args.state.exists():
        shutil.rmtree(args.state)
    args.state.mkdir(parents=True, exist_ok=True)
    cfg_path = args.state / "settings.json"
    if cfg_path.exists() and json.loads(cfg_path.read_text()) != json.loads(json.dumps(settings)):
        p.error(f"{args.state} holds a run with other settings: pass --fresh or another --state")
    cfg_path.write_text(json.dumps(settings, indent=1))
    base_log = split.train
    base_cf = make_cf(shipped.cf_model, base_log, len(catalog), **shipped.cf_params)
    base_bot = Bot(Recommender(retriever, base_cf, shipped))
    counts = np.bincount(base_log.item_rows, minlength=len(catalog))
    popular = top_share_rows(counts, 0.01)
    n_base_users = len(base_log.users())
    print(f"{len(users)} simulated users, {len(chosen)} arms, {args.rounds} rounds; CF {shipped.cf_model} on "
          f"{len(base_log):,} ratings of {n_base_users} other users (setup {time.perf_counter() - start:.0f} s)",
          flush=True)
    results: dict[str, list[dict]] = {a: [] for a in chosen}
    computed = 0
    for r in range(1, args.rounds + 1):
        for a in chosen:
            path = args.state / folder_name(a) / f"round_{r:02d}.json"
            if path.exists():
                res = json.loads(path.read_text())
            else:
                config, learns, term = all_arms[a]
                res = run_round(a, config, learns, r, base_bot, base_log, users, sim, args.state, term)
                computed += 1
            results[a].append(res)
            res["stats"] = RoundStats(res, len(catalog), counts, n_base_users, popular)
            fig = round_figures(res["stats"], np.random.default_rng([args.seed, r]))
            res["figures"] = fig
            print(f"round {r:2d} {a:22s} NDCG@10 {fig['ndcg@10']['mean']:.4f} Recall@10 {fig['recall@10']['mean']:.4f} "
                  f"coverage {fig['coverage']['mean']:.4f} gini {fig['gini']['mean']:.4f} "
                  f"top1% {fig['top1%_share']['mean']:.4f} novelty {fig['novelty']['mean']:.3f} "
                  f"(learned {res['learned_interactions']}{weight_note(res)}, likes {res['likes']}, "
                  f"{res['seconds']['total']:.0f} s)",
                  flush=True)
    wall = time.perf_counter() - start
    runs = json.loads((args.state / "runs.json").read_text()) if (args.state / "runs.json").exists() else []
    if computed:  # every invocation that computed rounds, with its wall time (a resumed run has several)
        runs.append({"started": started, "wall_seconds": round(wall, 1), "computed_rounds": computed,
                     "load_average": load_avg, "command": command})
        (args.state / "runs.json").write_text(json.dumps(runs, indent=1))
    rng = np.random.default_rng(args.seed)
    pairs = {}
    if STATIC in results:  # every arm against the shipped pipeline that never learns, same users and traffic seeds
        for a in chosen:
            if a != STATIC:
                pairs[f"{a} − {STATIC} (last round)"] = paired(results[a][-1]["stats"], results[STATIC][-1]["stats"], rng)
    if LEARN in results and CF_ONLY in results:  # what the logbook term adds to the CF refit, same users
        pairs[f"{LEARN} − {CF_ONLY} (last round)"] = paired(results[LEARN][-1]["stats"], results[CF_ONLY][-1]["stats"],
                                                             rng)
    for a in chosen:
        if len(results[a]) > 1:
            pairs[f"{a}: last round − round 1"] = paired(results[a][-1]["stats"], results[a][0]["stats"], rng)
    def learning(learns: bool, term: bool) -> str:
        if not learns:
            return "never learns"
        return "learns from its logs each round (CF refit" + (
            ", plus the logbook's co-occurrence term, its weight chosen on the last round's sessions)" if term
            else " only)")

    descriptions = {a: f"fuser {c.make_fuser().describe()}, MMR λ {c.mmr_lambda}, {learning(learns, term)}"
                    for a, (c, learns, term) in all_arms.items() if a in chosen}
    report = {
        "protocol": (f"{len(users)} simulated users = the cold-start benchmark's held-out test users (seed {SEED}); "
                     f"half of each user's liked items (rated >= 4) kept back as targets, never reacted to. "
                     f"Per round and arm: evaluation turn (fixed genre request, top {CUTOFF} vs targets), then one "
                     f"logged session of {args.turns} messages per user (likes >= 4 stars, dislikes <= 2, "
                     f"acceptance {args.accept}); learning arms refit CF ({shipped.cf_model}) on the base ratings "
                     f"of {n_base_users} other users plus everything learned from their logbooks before the round "
                     + ("and serve the items those logbooks' sessions liked together as the \"logbook\" term "
                        "(fusion/logbook_term.py, as python -m bot.offline.learn does), its weight chosen each round on up to "
                        f"{MAX_CASES} later likes of the previous round's sessions against the co-occurrence of the "
                        "rounds before it " if logbook_term else "")
                     + "(no encoder fine-tuning per round). Exposure metrics over every list shown in the round's "
                     f"traffic; popularity and novelty from the base ratings. Bootstrap: {N_BOOT} resamples of users."),
        "command": command, "runs": runs,
        "users": len(users), "arms": chosen, "arm_descriptions": descriptions,
        "round_numbers": list(range(1, args.rounds + 1)),
        "rounds": {a: [{"round": res["round"], "learned_interactions": res["learned_interactions"],
                        "logbook_weight": (res.get("logbook") or {}).get("weight"),
                        "likes": res["likes"], "dislikes": res["dislikes"], **res["figures"]}
                       for res in results[a]] for a in chosen},
        "paired": pairs,
        "seconds": {a: {k: float(np.mean([res["seconds"][k] for res in results[a]]))
                        for k in ("learn", "eval", "traffic", "total")} for a in chosen},
        "wall_seconds": float(sum(r["wall_seconds"] for r in runs)), "computed_rounds": computed,
        "sum_round_seconds": float(sum(res["seconds"]["total"] for a in chosen for res in results[a])),
        "load_average": load_avg, "settings": settings,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "longterm.json").write_text(json.dumps(rounded(report), indent=1))
    (args.out / "longterm.md").write_text(markdown(report))
    for m in METRICS:
        plot(report, m, args.out / f"longterm_{m.replace('@', '').replace('%', 'pct')}.png")
    for line in findings(report):
        print(line)
    print(f"long-term benchmark: {args.rounds} rounds x {len(chosen)} arms x {len(users)} users in {wall:.0f} s "
          f"({computed} arm-rounds computed now) -> {args.out}/longterm.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
