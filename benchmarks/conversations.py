"""The chat bot on real requests: ReDial conversations replayed through the bot.

    python -m benchmarks.conversations [--catalog movielens|redial] [--dialogues FILE] [--artifacts DIR]

The cold-start benchmark and the fusion tuner score requests built from genres ("Something
to watch. Genres: Crime, Drama."); the ReDial benchmark scores a model of the ReDial
catalog. Neither runs the bot itself on what people actually type. This does: each
dialogue of ReDial `valid.jsonl` is fed to the bot as it ships (`make run`'s catalog,
encoder, CF and tuned fusion from artifacts/), one seeker message at a time through
`Bot.listen` (no list is shown, so nothing is excluded as already shown). At each
recommender turn that names movies, the bot ranks the catalog for the session so far.

- Targets: the movies that turn names that exist in the bot's catalog (ReDial ->
  MovieLens by normalised title and year, retrieval/crosswalk.py) and were not mentioned
  earlier in the dialogue; movies mentioned earlier are excluded from the list (the
  ReDial "new items" rule). Turns before the seeker has said anything are skipped.
- Ranks come from the bot's own pool (text top-N ∪ CF top-N, then fusion and MMR), read
  off a top-50 list: a target outside it is a miss.
- Variants: the fusion as shipped (the tuned strategy), fixed α from text only (1.0) to
  CF only (0.0), the shipped adaptive fuser with other first-turn text weights α0, and
  other weights of earlier turns in the text query (BotConfig.recency_decay/switch_decay).

With `--catalog redial` the bot is `launch.py --catalog redial`'s: the pipeline trained
on ReDial conversations, over the ReDial catalog, so every target counts. Its transcript
is what it reads, so the replay is run twice: with the bot's own replies (at every
recommender turn it answers with its list, whose top 3 join the transcript and whose 10
are never shown again) and hearing the seeker only; beside them the offline protocol on
the same pipeline and dialogues (benchmarks/redial/protocol.py, new items: the human
recommender's turns in the context). The gap between the rows is what the benchmark's
full context is worth over what a person actually sees in the chat.

With the MovieLens bot: not comparable with `benchmarks.redial` (another catalog, only
linked targets count). Writes benchmarks/results/conversations[_redial].{json,md}.
`--tune-defaults TRAIN`: the ratings-only bot's replay defaults (fusion/config.py
REPLAY_DEFAULTS) chosen on the dev split of TRAIN, never on the replayed valid file
(conversations_defaults.*); the default report shows the bot with and without them.
`--plain-texts --artifacts DIR`: the MovieLens bot with item texts of title, year and genres
only (no facets), built into DIR (conversations_plain_texts.*).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.offline.replay import replay, score  # noqa: E402
from fusion.tune import GUARD_KEEP  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FIXED_ALPHAS = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)
FIRST_TURN_ALPHAS = (0.3, 0.5, 0.7, 0.9)  # α0 of the shipped adaptive fuser
# BotConfig changes tried with the shipped fusion (how earlier turns weigh in the text query)
BOT_VARIANTS = {"turns fade 0.3 (the old default)": {"recency_decay": 0.3, "switch_decay": 0.3},
                "turns fade 0.6": {"recency_decay": 0.6}, "no fading at all": {"recency_decay": 1.0, "switch_decay": 1.0}}


def main(argv: list[str] | None = None) -> int:
    from bot.conversation.chat import Bot
    from fusion.fuse import AdaptiveFuser, WeightedFuser
    from retrieval.crosswalk import link_rows
    from retrieval.loaders import DataError
    from retrieval.redial import default_data_dir, load_catalog, load_dialogues

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalog", choices=("movielens", "redial"), default="movielens",
                   help="the bot as `make run` ships it (movielens) or `launch.py --catalog redial`")
    p.add_argument("--dialogues", type=Path, default=None, help="ReDial JSON lines (default: valid.jsonl)")
    p.add_argument("--artifacts", type=Path, default=None, help="the bot's artifact folder (default: launch.py's)")
    p.add_argument("--skip-replies", action="store_true",
                   help="with --catalog redial: leave out the replay with the bot's own replies (the slow row, "
                        "about 12 minutes on 2 cores)")
    p.add_argument("--versus-ratings", action="store_true",
                   help="the default MovieLens bot (learnt from the shipped ReDial train dialogues) beside the "
                        "ratings-only one (launch.py --no-dialogues), with each learnt term left out in turn "
                        "(writes conversations_dialogues.*)")
    p.add_argument("--train-dialogues", type=Path, default=None, metavar="FILE",
                   help="with --versus-ratings: the learnt bot also reads FILE (launch.py --dialogues FILE)")
    p.add_argument("--tune-defaults", type=Path, default=None, metavar="TRAIN",
                   help="choose the ratings-only replay defaults (fusion/config.py REPLAY_DEFAULTS) on the dev "
                        "split of these dialogues (e.g. ../shared/data/redial/train.jsonl), replayed through the "
                        "MovieLens bot; writes conversations_defaults.* and says whether the shipped ones match")
    p.add_argument("--plain-texts", action="store_true",
                   help="MovieLens item texts without facets (title, year, genres), built into --artifacts: "
                        "what the facet texts cost or bring (writes conversations_plain_texts.*)")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    if args.plain_texts and (args.artifacts is None or args.catalog != "movielens"):
        p.error("--plain-texts builds its own MovieLens artifacts: give --artifacts DIR")
    if args.catalog == "redial":
        return redial_main(args, argv)
    if args.train_dialogues is not None and not args.versus_ratings:
        p.error("--train-dialogues goes with --versus-ratings")
    if args.versus_ratings:
        return dialogues_main(args, argv)
    if args.tune_defaults is not None:
        return defaults_main(args, argv)
    import launch

    data_dir = default_data_dir()
    dialogues_path = args.dialogues or data_dir / "valid.jsonl"
    try:
        redial = load_catalog(data_dir)
        dialogues = load_dialogues(dialogues_path, redial)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.plain_texts:
        from retrieval.movielens import load_movielens

        launch.load_data = lambda _args: load_movielens(facets=False)
    bot, _ = launch.make_bot(launch.parse_args([] if args.artifacts is None else ["--artifacts", str(args.artifacts)]))
    links = link_rows(redial, bot.catalog)
    to_bot = {redial.items[a].item_id: bot.catalog.items[b].item_id for a, b in links.items()}
    start = time.perf_counter()
    cases = replay(bot, dialogues, to_bot)
    shipped = bot.recommender.fuser
    fusers: dict[str, object] = {"shipped": None}
    fusers.update({f"fixed α={a}": WeightedFuser(a) for a in FIXED_ALPHAS})
    if isinstance(shipped, AdaptiveFuser):
        fusers.update({f"shipped, α0={a}": replace(shipped, alpha0=a) for a in FIRST_TURN_ALPHAS if a != shipped.alpha0})
    results = {name: m.result() for name, m in score(bot, cases, fusers).items()}
    base = ratings_tuned(bot, args.artifacts)
    if base is not None and base != bot.recommender.config:
        before = Bot(bot.recommender.with_config(base), bot.config)
        results["the ratings-tuned config alone (no replay defaults)"] = score(
            before, cases, {"shipped": None})["shipped"].result()
    for name, changes in BOT_VARIANTS.items():
        variant = Bot(bot.recommender, replace(bot.config, **changes))
        results[f"shipped, {name}"] = score(variant, cases, {"shipped": None})["shipped"].result()
    # reading happens in the replay, so this variant replays again
    unread = Bot(bot.recommender, replace(bot.config, read_facets=False))
    results["shipped, no facet reading (people, limits, categories)"] = score(
        unread, replay(unread, dialogues, to_bot), {"shipped": None})["shipped"].result()
    seconds = time.perf_counter() - start
    n_mentions = sum(1 for d in dialogues for t in d.turns if not t.seeker for _ in t.item_ids)
    report = {
        "dialogues": str(dialogues_path), "n_dialogues": len(dialogues), "catalog": bot.catalog.name,
        "catalog_items": len(bot.catalog), "linked_movies": len(links), "n_cases": len(cases),
        "recommender_mentions": n_mentions, "shipped_fuser": shipped.describe(),
        "shipped_bot_config": {"recency_decay": bot.config.recency_decay, "switch_decay": bot.config.switch_decay},
        "mmr_lambda": bot.recommender.config.mmr_lambda,
        "seconds": round(seconds, 1), "results": results,
    }
    stem = "conversations_plain_texts" if args.plain_texts else "conversations"
    md = ["# The bot on ReDial conversations", "",
          f"Command: `{' '.join(['python -m benchmarks.conversations', *argv])}`. {len(dialogues)} dialogues of "
          f"`{dialogues_path.name}` replayed through the bot ({bot.catalog.name}, {len(bot.catalog)} items); "
          f"{len(links)} ReDial movies link to it; {len(cases)} recommender turns with a linked new movie. "
          f"Shipped fusion: `{json.dumps(shipped.describe())}`; earlier turns fade by "
          f"{bot.config.recency_decay} per turn, {bot.config.switch_decay} per new request. "
          f"{seconds:.0f} s.", "",
          "| variant | R@1 | R@10 | R@50 | MRR@10 | targets |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        md.append(f"| {name} | {r['recall@1']:.3f} | {r['recall@10']:.3f} | {r['recall@50']:.3f} | "
                  f"{r['mrr@10']:.3f} | {r['n_targets']} |")
    md += ["", "Not comparable with the ReDial benchmark (other catalog, linked targets only, the bot "
           "hears only the seeker)."]
    write_report(stem, report, md)
    return 0


def write_report(stem: str, report: dict, md: list[str]) -> None:
    """benchmarks/results/<stem>.json and .md, and the Markdown printed."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md), flush=True)


def table_rows(results: dict, seconds: dict) -> list[str]:
    """Markdown rows: name, R@1, R@10, R@50, MRR@10, targets, seconds ("(same run)" when
    a row was scored in another row's run)."""
    return [f"| {name} | {r['recall@1']:.3f} | {r['recall@10']:.3f} | {r['recall@50']:.3f} | {r['mrr@10']:.3f} | "
            f"{r['n_targets']} | {f'{seconds[name]:.0f}' if name in seconds else '(same run)'} |"
            for name, r in results.items()]


def ratings_tuned(bot, artifacts: Path | None):
    """The config the bot's build tuned on its ratings (before the replay defaults went over
    it), None when it tuned none."""
    import launch
    from fusion.build import load_tuned

    catalog, interactions = launch.load_data(launch.parse_args([]))
    folder = artifacts or launch.ROOT / "artifacts" / bot.catalog.name
    return load_tuned(folder / "fusion", catalog, interactions)


def coldstart_guard(recommender, base):
    """fusion/tune.py ratings_guard over the ratings-only pipeline's terms (the request
    terms and the "popular" prior of the CF fitted without the held-out users)."""
    import launch
    from fusion.build import ratings_only
    from fusion.tune import ratings_guard

    catalog, interactions = launch.load_data(launch.parse_args([]))
    return ratings_guard(catalog, interactions, recommender.retriever, base,
                         lambda cf: ratings_only(recommender.retriever, cf, base, tuned=True)[0])


def config_delta(base, chosen) -> dict:
    """The fields `chosen` sets over `base`, as fusion/config.py REPLAY_DEFAULTS writes them."""
    a, b = base.to_dict(), chosen.to_dict()
    delta = {k: v for k, v in b.items() if k not in ("weights", "alpha") and v != a[k]}
    if b["fuser"] is None and b["alpha"] != a["alpha"] or "fuser" in delta:
        delta["alpha"] = b["alpha"]
    weights = {k: v for k, v in b["weights"].items() if v and a["weights"].get(k) != v}
    if weights:
        delta["weights"] = weights
    return delta


def defaults_main(args, argv: list[str]) -> int:
    """Choose the ratings-only replay defaults on the dev split of the training dialogues."""
    import launch
    from bot.offline.replay import RATINGS_SEARCH, describe_structure, tune_on_dialogues
    from fusion.config import REPLAY_DEFAULTS
    from retrieval.dialogue import split_dialogues
    from retrieval.loaders import DataError
    from retrieval.redial import load_linked_dialogues

    bot, _ = launch.make_bot(launch.parse_args([] if args.artifacts is None else ["--artifacts", str(args.artifacts)]))
    base = ratings_tuned(bot, args.artifacts)
    if base is None:
        print("error: the bot's build tuned no config on its ratings: nothing to choose the defaults over",
              file=sys.stderr)
        return 2
    try:
        linked = load_linked_dialogues(args.tune_defaults, bot.catalog)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _, dev = split_dialogues(linked.dialogues)
    print(f"dev split of {args.tune_defaults.name}: {len(dev)} dialogues; {linked.describe()}", flush=True)
    guard = coldstart_guard(bot.recommender, base)
    chosen, report = tune_on_dialogues(bot.recommender.with_config(base), dev, search=RATINGS_SEARCH, guard=guard)
    delta = config_delta(base, chosen)
    report.update(dialogues=str(args.tune_defaults), linked=linked.describe(), base=base.to_dict(),
                  chosen_delta=delta, shipped=dict(REPLAY_DEFAULTS), matches=delta == dict(REPLAY_DEFAULTS))
    md = ["# Replay defaults of the ratings-only bot, chosen on dev dialogues", "",
          f"Command: `{' '.join(['python -m benchmarks.conversations', *argv])}` ({report['seconds']:.0f} s). "
          f"The dev split of `{args.tune_defaults.name}` ({report['n_dialogues']} dialogues, {report['n_cases']} "
          "recommender turns naming a linked new movie; the other 85% are never read here) replayed through the "
          "MovieLens bot seeker message by seeker message, as `bot/offline/replay.py` does for the dialogue build. Start: "
          "the config the build tuned on the ratings, the request terms and the \"popular\" prior unweighted. "
          "Objective: the mean of R@10 and R@50 on the dev cases. Words first (bot/offline/replay.py RATINGS_SEARCH): "
          "the pool stays the text top-N, the text weight at least 0.4 or the ratings-tuned fuser's, and only the "
          "per-turn reading is searched. Guard: a point is refused when it costs the ratings protocol, i.e. "
          f"when its {guard.name} falls below {guard.keep:g} times the start's (CF fitted without those users; "
          "the cold-start benchmark's test users are never read here).", "",
          "| structure | start R@10 | start R@50 | best R@10 | best R@50 | cold-start NDCG@10 start -> best (floor) "
          "| points refused | best point |", "|---|---|---|---|---|---|---|---|"]
    for row in report["structures"]:
        g = row["guard"]
        md.append(f"| {describe_structure(row)} | {row['start_dev']['recall@10']:.3f} | "
                  f"{row['start_dev']['recall@50']:.3f} | {row['dev']['recall@10']:.3f} | "
                  f"{row['dev']['recall@50']:.3f} | {g['start']:.4f} -> {g['best']:.4f} ({g['floor']:.4f}) | "
                  f"{g['refused']} of {row['configs_tried']} | `{json.dumps(row['best'])}` |")
    md += ["", f"Chosen (the best structure's point, as config fields over the ratings-tuned config): "
               f"`{json.dumps(delta, sort_keys=True)}`.", "",
           f"Shipped in fusion/config.py REPLAY_DEFAULTS: `{json.dumps(dict(REPLAY_DEFAULTS), sort_keys=True)}` "
           f"({'the same' if report['matches'] else 'DIFFERENT: copy the chosen fields there'})."]
    write_report("conversations_defaults", report, md)
    return 0


def dialogues_main(args, argv: list[str]) -> int:
    """The MovieLens bot with and without learning from dialogues, on the same replay."""
    import launch
    from retrieval.crosswalk import link_rows
    from retrieval.loaders import DataError
    from retrieval.redial import default_data_dir, load_catalog, load_dialogues

    data_dir = default_data_dir()
    dialogues_path = args.dialogues or data_dir / "valid.jsonl"
    try:
        redial = load_catalog(dialogues_path.parent, with_facts=False)
        dialogues = load_dialogues(dialogues_path, redial)
        plain, _ = launch.make_bot(launch.parse_args(["--no-dialogues"]))
        flags = (["--dialogues", str(args.train_dialogues)] if args.train_dialogues else []) + (
            ["--artifacts", str(args.artifacts)] if args.artifacts else [])
        learnt_args = launch.parse_args(flags)
        learnt, _ = launch.make_bot(learnt_args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    links = link_rows(redial, learnt.catalog)
    to_bot = {redial.items[a].item_id: learnt.catalog.items[b].item_id for a, b in links.items()}
    results, seconds = {}, {}
    config = learnt.recommender.config
    learnt_name = (f"learnt from dialogues (launch.py {' '.join(flags)})" if flags
                   else "learnt from the shipped dialogues (make run)")
    variants = {"ratings alone (launch.py --no-dialogues)": plain, learnt_name: learnt}
    for term in sorted(w for w, v in config.weights.items() if v):
        weights = {k: v for k, v in config.weights.items() if k != term}
        variants[f"learnt, without the {term} term"] = type(learnt)(
            learnt.recommender.with_config(config.with_(weights=weights)), learnt.config)
    for name, bot in variants.items():
        start = time.perf_counter()
        results[name] = score(bot, replay(bot, dialogues, to_bot), {"shipped": None})["shipped"].result()
        seconds[name] = round(time.perf_counter() - start, 1)
        print(f"{name}: R@10 {results[name]['recall@10']:.3f} R@50 {results[name]['recall@50']:.3f}", flush=True)
    from retrieval.artifacts import read_manifest

    build = read_manifest(learnt_args.artifacts).get("config", {}).get("conversations", {})
    tuning = build.get("tuning", {})
    report = {"dialogues": str(dialogues_path), "learnt_flags": flags,
              "n_dialogues": len(dialogues), "linked_movies": len(links), "catalog": learnt.catalog.name,
              "learnt_pipeline": config.to_dict(), "source": build.get("source"),
              "dev_tuning": {k: tuning.get(k) for k in ("n_dialogues", "n_cases", "structures", "seconds")},
              "results": results, "seconds": seconds}
    md = ["# The MovieLens bot, with and without learning from dialogues", "",
          f"Command: `{' '.join(['python -m benchmarks.conversations', *argv])}`. {len(dialogues)} dialogues of "
          f"`{dialogues_path.name}` replayed through each bot (MovieLens, {len(learnt.catalog)} items; the bot "
          f"hears the seeker's messages only); {len(links)} ReDial movies link to the catalog, and only linked "
          "movies new to the dialogue count as targets. The learnt bot was built with "
          f"`{' '.join(['launch.py', *flags]) if flags else 'make run'}`: {build.get('source', '?')}; 85% of them fit its "
          "parts (encoder pairs, co-occurrence, priors, head, nearest contexts), the other 15% (dev) chose its "
          "weights by this same replay (at development time where the build took the shipped choices, "
          f"fusion/choices.py). The replayed file was touched by no choice.", "",
          "| bot | R@1 | R@10 | R@50 | MRR@10 | targets | seconds |", "|---|---|---|---|---|---|---|"]
    md += table_rows(results, seconds)
    if tuning.get("structures"):
        reference = tuning.get("guard_reference")
        against = ("the ratings-only pipeline's cold-start NDCG@10 at any number k of likes revealed (k = 0, 1, 3, "
                   f"5, 10; {figures(reference['ndcg@10_by_k'])})" if reference else
                   "the start's cold-start NDCG@10 (mean over k = 0..10 likes)")
        md += ["", f"Dev replay ({tuning.get('n_dialogues')} dialogues, {tuning.get('n_cases')} cases), best point "
               "per structure (objective: mean of R@10 and R@50; start = the ratings-only weights; terms fade: "
               "every term but the request's words weighs n0 / (n0 + likes)). Guard (fusion/tune.py "
               f"ratings_guard): a point that keeps less than {GUARD_KEEP:.0%} of {against} on the ratings tuner's "
               "validation users is refused:", "",
               "| query | candidates | terms fade | start | best | cold-start NDCG@10 best (floor) | points refused "
               "| best point |", "|---|---|---|---|---|---|---|---|"]
        for row in tuning["structures"]:
            g = row.get("guard")
            guarded = (f"{figures(g['best'])} ({figures(g['floor'])}) | {g['refused']} of "
                       f"{row['configs_tried']}") if g else "no guard | –"
            fade = row.get("term_decay")
            md.append(f"| {row['query']} | {row['n_candidates'] or 'all'} | {'no' if fade is None else f'n0 {fade}'} | "
                      f"{objective(row['start_objective'])} | {row['objective']:.3f} | {guarded} | `{json.dumps(row['best'])}` |")
    write_report("conversations_dialogues", report, md)
    return 0


def objective(value: float | None) -> str:
    """A dev objective for a table cell (None: the point was refused by the guard)."""
    return "refused by the guard" if value is None else f"{value:.3f}"


def figures(value) -> str:
    """A guard figure (one mean) or figures (one per k) for a table cell."""
    return f"{value:.4f}" if isinstance(value, (int, float)) else " / ".join(f"{v:.3f}" for v in value)


def redial_main(args, argv: list[str]) -> int:
    """The ReDial bot: replay with and without its own replies, beside the offline protocol."""
    import launch

    from benchmarks.redial.protocol import build_pools, evaluate
    from retrieval.dialogue import recommender_samples
    from retrieval.loaders import DataError
    from retrieval.redial import default_data_dir, load_dialogues

    dialogues_path = args.dialogues or default_data_dir() / "valid.jsonl"
    bot, _ = launch.make_bot(launch.parse_args(["--catalog", "redial"] + (
        ["--artifacts", str(args.artifacts)] if args.artifacts else [])))
    try:
        dialogues = load_dialogues(dialogues_path, bot.catalog)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    identity = {it.item_id: it.item_id for it in bot.catalog.items}
    results, seconds = {}, {}
    rows = (("bot replay: the seeker's messages and the bot's own replies", True),
            ("bot replay: the seeker's messages only", False))
    for name, replies in rows[1:] if args.skip_replies else rows:
        start = time.perf_counter()
        cases = replay(bot, dialogues, identity, replies)
        results[name] = score(bot, cases, {"shipped": None})["shipped"].result()
        if replies:
            results[name + ", counting movies its earlier lists showed"] = score(
                bot, cases, {"shipped": None}, count_shown=True)["shipped"].result()
        seconds[name] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    name = "offline protocol: the full dialogue so far (new items)"
    results[name] = evaluate(bot.recommender, build_pools(bot.recommender, recommender_samples(dialogues)))[0]["new_items"]
    seconds[name] = round(time.perf_counter() - start, 1)
    report = {"dialogues": str(dialogues_path), "n_dialogues": len(dialogues), "catalog": "redial",
              "pipeline": bot.recommender.config.to_dict(), "results": results, "seconds": seconds}
    md = ["# The ReDial bot on ReDial conversations", "",
          f"Command: `{' '.join(['python -m benchmarks.conversations', *argv])}`. {len(dialogues)} dialogues of "
          f"`{dialogues_path.name}`, each ranked by the pipeline `launch.py --catalog redial` serves "
          f"(second stage {'on' if bot.recommender.config.rerank else 'off'}). Replay rows: the bot hears the "
          "seeker's messages one by one; at each recommender turn that names a movie new to the dialogue, the "
          "bot's top 50 for the conversation so far is scored against those movies (the movies mentioned before "
          "are never listed). With replies, the bot answers every recommender turn with its list of 10 (never "
          "shown again; its top 3 join the transcript as its turn). The offline row reads the same dialogues "
          "with the human recommender's turns in the context, as the ReDial benchmark does.", "",
          "| protocol | R@1 | R@10 | R@50 | MRR@10 | targets | seconds |", "|---|---|---|---|---|---|---|"]
    md += table_rows(results, seconds)
    write_report("conversations_redial", report, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
