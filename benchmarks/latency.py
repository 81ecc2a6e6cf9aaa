"""Latency of one chat turn on the default catalog, and the first-run build time.

    python -m benchmarks.latency [--turns 100] [--warmup 10] [--artifacts DIR] [--launch-args "..."]

`--launch-args "--catalog redial"` with `--artifacts artifacts/redial` times the ReDial
pipeline instead (written to latency_redial.*); `--launch-args "--dialogues FILE"` the
MovieLens bot that learnt from dialogues (latency_dialogues.*); `--launch-args
"--query-precision float32"` the bot with float32 queries (latency_float32.*).

Builds the default artifacts into a fresh folder (timed: that is what a first `make run`
pays), then drives `Bot.respond` through multi-turn sessions: `--warmup` turns untimed,
then `--turns` timed. Writes benchmarks/results/latency[_<catalog>].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parent / "results"
# Conversations of 1-3 turns, cycled; each new conversation starts a new session.
CONVERSATIONS = [
    ["I'd like a funny animated movie for kids", "now something darker for adults, no cartoons"],
    ["a space adventure with aliens", "more like Star Wars", "something older, from the 70s"],
    ["romantic comedy for a date night"],
    ["a gritty crime thriller", "no horror please", "show me more"],
    ["a documentary about music"],
    ["epic war movie", "less violent, more drama"],
    ["scary movie but not too gory", "something with ghosts"],
    ["a classic western"],
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--artifacts", type=Path, default=None, help="reuse this folder (skips the build timing)")
    p.add_argument("--launch-args", default="", help="extra launch.py flags, e.g. '--no-finetune'")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)

    import launch

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.artifacts or Path(tmp) / "artifacts"
        launch_args = launch.parse_args(["--artifacts", str(folder), *args.launch_args.split()])
        t0 = time.perf_counter()
        bot, report = launch.make_bot(launch_args)
        startup_s = time.perf_counter() - t0
        latencies = []
        turn_no, conv_no = 0, 0
        while turn_no < args.warmup + args.turns:
            session = bot.new_session(f"bench-{conv_no}")
            # conversations repeat: each starts with nothing cached, as a new visitor's words
            # would; within it, earlier turns are cached as in the chat
            bot.recommender.forget_texts()
            for message in CONVERSATIONS[conv_no % len(CONVERSATIONS)]:
                t = time.perf_counter()
                session = bot.respond(message, session).session
                if turn_no >= args.warmup:
                    latencies.append(time.perf_counter() - t)
                turn_no += 1
                if turn_no >= args.warmup + args.turns:
                    break
            conv_no += 1
        # inside the with: without --artifacts the encoder's weights live in the temporary folder
        queries = bot.recommender.retriever.query_encoder.describe().get("precision", "float32")
    ms = np.array(latencies) * 1000
    result = {
        "catalog": bot.catalog.name, "items": len(bot.catalog),
        "turns_timed": len(ms), "warmup_turns": args.warmup,
        "turn_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
                    "mean": float(ms.mean()), "max": float(ms.max())},
        "build": {"parts_built": list(report.built), "build_s": report.seconds,
                  "startup_incl_model_load_s": startup_s},
        "launch_args": args.launch_args,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    result["queries"] = queries
    # --query-precision float32 beside the int8 default: its own file, for the comparison
    name = ("latency" if bot.catalog.name == "movielens" else f"latency_{bot.catalog.name}") + (
        "_dialogues" if launch_args.dialogues else "_ratings" if launch_args.no_dialogues else "") + (
        "_float32" if launch_args.query_precision == "float32" else "")
    result["pipeline"] = bot.recommender.config.to_dict()
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    built = ", ".join(report.built) or "nothing (reused)"
    md = [
        f"# Chat turn latency ({bot.catalog.name}, {len(bot.catalog):,} items"
        + (", second stage on)" if bot.recommender.config.rerank else ")"), "",
        "Command: `" + " ".join(["python -m benchmarks.latency", *argv]) + f"` on {os.cpu_count()} CPUs.", "",
        "| measure | value |", "|---|---|",
        f"| queries embedded in | {queries} |",
        f"| turns timed (after {args.warmup} warm-up) | {len(ms)} |",
        f"| p50 turn | {result['turn_ms']['p50']:.1f} ms |",
        f"| p95 turn | {result['turn_ms']['p95']:.1f} ms |",
        f"| max turn | {result['turn_ms']['max']:.1f} ms |",
        f"| first-run build ({built}) | {report.seconds:.1f} s |",
        f"| start-up incl. model load | {startup_s:.1f} s |",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
