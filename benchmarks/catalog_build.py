"""Build time of a 10,000-book catalog, with and without fine-tuning, and its chat latency.

    python -m benchmarks.catalog_build [--items 10000] [--finetune-steps 60] [--turns 50]

Generates a synthetic bookshop in a temporary folder (never committed): titles, authors,
genres, years, and two interaction logs, (a) a new shop's 99 ratings from 5 readers, and
(b) a grown shop's 6,000 ratings from 150 readers, enough for fine-tuning by
retrieval/finetune.py's minimums but not for tuning. Then, each in a fresh artifact folder
with the packaged MiniLM:
1. build on log (a): fine-tuning and tuning skip, saying why (the "start small" case);
2. build on log (b) with fine-tuning, its steps capped by --finetune-steps;
3. `Bot.respond` latency over --turns scripted book requests on build 1's pipeline, with
   the threads launch.py's server gives one turn (builds run with torch's default, as
   launch.py builds).
Wall time and process CPU time (all threads) are both reported: on shared cores the wall
time includes waiting. Writes benchmarks/results/catalog_build.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parent / "results"
GENRES = ("Fantasy", "Mystery", "Romance", "Science Fiction", "History", "Biography", "Thriller",
          "Poetry", "Cooking", "Travel", "Horror", "Children", "Philosophy", "Economics")
WORDS = ("River", "Winter", "Shadow", "Garden", "Empire", "Letters", "Secret", "Island", "Glass",
         "Storm", "Crown", "Harbour", "Mountain", "Silence", "Lantern", "Orchard", "Journey", "Mirror",
         "Wolves", "Salt", "Night", "Bridge", "Kitchen", "Stars", "Machine", "Forest", "City", "Ashes")
FIRST = ("Anna", "Ben", "Clara", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
         "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara")
LAST = ("Almeida", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
        "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt")
# Scripted requests, cycled in conversations of 1-3 turns (a new session each).
CONVERSATIONS = [
    ["a fantasy book with dragons", "something darker, no children's books"],
    ["a mystery set on an island", "more like that, from the 1990s"],
    ["a cookbook for winter evenings"],
    ["a history of empires", "less academic, more story", "show me more"],
    ["poetry about the sea"],
    ["a science fiction novel about machines", "no horror please"],
    ["a biography of a musician"],
    ["a thriller I can read on a train", "something shorter"],
]


def write_catalog(path: Path, n_items: int, rng: random.Random) -> None:
    """CSV with item_id, title, people:author, genres, year; and `text` (title, year, genres,
    author) so the author reaches the encoder even where the loader reads no facets."""
    from retrieval.loaders import item_text

    authors = [f"{f} {l}" for f in FIRST for l in LAST]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "title", "people:author", "genres", "year", "text"])
        for i in range(n_items):
            title = "The " + " ".join(rng.sample(WORDS, rng.choice((1, 2)))) + rng.choice(("", "", " of " + rng.choice(WORDS)))
            author = rng.choice(authors)
            genres = tuple(rng.sample(GENRES, rng.choice((1, 2))))
            year = rng.randint(1900, 2024)
            w.writerow([f"b{i}", title, author, "|".join(genres), year,
                        item_text(title, year, genres, [("By", (author,))])])


def write_log(path: Path, n_items: int, genres_of: list[tuple[str, ...]], n_users: int, per_user: int,
              rng: random.Random) -> int:
    """Users who love one or two genres: 4-5 stars there, 1-3 elsewhere. Returns rows written."""
    by_genre: dict[str, list[int]] = {}
    for r, gs in enumerate(genres_of):
        for g in gs:
            by_genre.setdefault(g, []).append(r)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "item_id", "rating", "timestamp"])
        for u in range(n_users):
            loves = rng.sample(GENRES, rng.choice((1, 2)))
            seen: set[int] = set()
            for t in range(per_user):
                fav = rng.random() < 0.6
                r = rng.choice(by_genre[rng.choice(loves)]) if fav else rng.randrange(n_items)
                if r in seen:
                    continue
                seen.add(r)
                liked = any(g in loves for g in genres_of[r])
                w.writerow([f"reader{u}", f"b{r}", rng.choice((4, 5)) if liked else rng.choice((1, 2, 3)), t])
                rows += 1
    return rows


def build(catalog, interactions, folder: Path, finetune: bool, finetune_config=None) -> dict:
    from fusion.build import load_or_build
    from retrieval.encoder import TransformerEncoder

    t0, c0 = time.perf_counter(), time.process_time()
    encoder = TransformerEncoder()
    rec, report = load_or_build(catalog, interactions, encoder, folder, rebuild=True, progress=True,
                                finetune=finetune, tune=True, finetune_config=finetune_config)
    from retrieval.artifacts import read_manifest

    manifest = read_manifest(folder)["config"]
    return {"recommender": rec, "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(time.process_time() - c0, 1), "build_wall_s": round(report.seconds, 1),
            "build_cpu_s": round(report.cpu_seconds, 1), "built": list(report.built),
            "skipped": dict(report.skipped), "summary": report.summary, "stages": manifest["stages"],
            "interactions": len(interactions)}


def latency(recommender, turns: int, warmup: int = 5) -> dict:
    """Turn times with the threads the server gives a turn (bot/service/gate.py: cores // 2 turns
    at once; 1 on 2 cores), as launch.py serves."""
    from bot.conversation.chat import Bot
    from bot.service.gate import apply_thread_budget, thread_budget

    apply_thread_budget(thread_budget(2))
    bot = Bot(recommender)
    ms, cpu_ms, n, conv = [], [], 0, 0
    while n < warmup + turns:
        session = bot.new_session(f"bench-{conv}")
        recommender.forget_texts()  # a new visitor's words are not cached yet
        for message in CONVERSATIONS[conv % len(CONVERSATIONS)]:
            t, c = time.perf_counter(), time.process_time()
            session = bot.respond(message, session).session
            if n >= warmup:
                ms.append((time.perf_counter() - t) * 1000)
                cpu_ms.append((time.process_time() - c) * 1000)
            n += 1
            if n >= warmup + turns:
                break
        conv += 1
    a, c = np.array(ms), np.array(cpu_ms)
    return {"turns": len(a), "warmup": warmup, "threads": thread_budget(2), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "max_ms": round(float(a.max()), 1),
            "cpu_p50_ms": round(float(np.percentile(c, 50)), 1), "cpu_p95_ms": round(float(np.percentile(c, 95)), 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--finetune-steps", type=int, default=60,
                   help="cap on fine-tuning steps (0: skip that build); the shipped recipe allows 300")
    p.add_argument("--turns", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)

    from retrieval.facets import BOOK
    from retrieval.finetune import CATALOG_RECIPE
    from retrieval.loaders import load_catalog, load_interactions

    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    out: dict = {"command": " ".join(["python -m benchmarks.catalog_build", *argv]), "items": args.items}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_catalog(tmp / "books.csv", args.items, rng)
        catalog = load_catalog(tmp / "books.csv", "bookshop")
        if catalog.kind.noun == "item":  # the loader reads no kind yet: declare it here
            catalog = dataclasses.replace(catalog, kind=BOOK)
        out["author_facets_from_loader"] = bool(catalog.items[0].facets.people)
        genres_of = [it.genres for it in catalog.items]
        write_log(tmp / "new_shop.csv", len(catalog), genres_of, 5, 25, rng)  # cut to 99 below
        write_log(tmp / "grown_shop.csv", len(catalog), genres_of, 150, 40, rng)
        small = load_interactions(tmp / "new_shop.csv", catalog)
        small = type(small)(*(a[:99] for a in (small.user_ids, small.item_rows, small.weights, small.timestamps)))
        grown = load_interactions(tmp / "grown_shop.csv", catalog)

        print(f"== build 1: {len(catalog):,} books, the new shop's {len(small)} ratings", flush=True)
        first = build(catalog, small, tmp / "art_small", finetune=True)
        out["build_new_shop"] = {k: v for k, v in first.items() if k != "recommender"}
        if args.finetune_steps > 0:
            recipe = dataclasses.replace(CATALOG_RECIPE, max_steps=args.finetune_steps,
                                         eval_every=max(1, args.finetune_steps // 2))
            print(f"== build 2: the grown shop's {len(grown):,} ratings, fine-tuning up to "
                  f"{args.finetune_steps} steps", flush=True)
            second = build(catalog, grown, tmp / "art_grown", finetune=True, finetune_config=recipe)
            out["build_grown_shop_finetuned"] = {k: v for k, v in second.items() if k != "recommender"}
            out["build_grown_shop_finetuned"]["finetune_steps_cap"] = args.finetune_steps
        # last: it caps this process's threads as the server does
        print(f"== latency: {args.turns} turns through Bot.respond", flush=True)
        out["latency"] = latency(first["recommender"], args.turns)
    out["machine"] = {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load_before],
                      "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                      "platform": platform.platform(), "python": platform.python_version()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "catalog_build.json").write_text(json.dumps(out, indent=2))
    md = report(out)
    (RESULTS / "catalog_build.md").write_text(md)
    print(md)
    return 0


def report(out: dict) -> str:
    from fusion.stages import duration

    m = out["machine"]
    lines = [f"# Building a {out['items']:,}-book catalog", "",
             f"Command: `{out['command']}` (run with `nice -n 10`) on {m['cpus']} CPUs shared with other "
             f"work (load average {m['load_avg_before'][0]} before, {m['load_avg_after'][0]} after): wall time "
             "includes waiting for the cores; CPU time is the process's own work over all its threads.", "",
             "Synthetic catalog and logs generated in a temporary folder (not committed); the packaged "
             "all-MiniLM-L6-v2; each build into a fresh folder.", "",
             "| build | interactions | wall | CPU | built | skipped (why) |", "|---|---|---|---|---|---|"]
    for key, name in (("build_new_shop", "new shop, fine-tuning asked"),
                      ("build_grown_shop_finetuned", "grown shop, fine-tuned")):
        b = out.get(key)
        if b is None:
            continue
        if "finetune_steps_cap" in b:
            name += f" (≤ {b['finetune_steps_cap']} steps)"
        skipped = "; ".join(f"{k}: {v}" for k, v in b["skipped"].items()) or "nothing"
        lines.append(f"| {name} | {b['interactions']:,} | {duration(b['build_wall_s'])} | "
                     f"{duration(b['build_cpu_s'])} | {', '.join(b['built'])} | {skipped} |")
    lines += ["", "Stages (seconds; ETA as printed in the heading):", "",
              "| build | stage | status | seconds | ETA |", "|---|---|---|---|---|"]
    for key in ("build_new_shop", "build_grown_shop_finetuned"):
        for s in out.get(key, {}).get("stages", []):
            eta = "" if s.get("eta_seconds") is None else f"{s['eta_seconds']:.0f}"
            lines.append(f"| {key} | {s['name']} | {s['status']} | {s['seconds']:.1f} | {eta} |")
    lat = out["latency"]
    lines += ["", f"Chat turns (`Bot.respond`, new shop's pipeline, {lat['turns']} timed after {lat['warmup']} "
              f"warm-up, {lat['threads']} thread(s) per turn as the server runs them): p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, max {lat['max_ms']} ms wall; "
              f"CPU p50 {lat['cpu_p50_ms']} ms, p95 {lat['cpu_p95_ms']} ms.", "",
              "Build summaries as printed:", ""]
    lines += [f"- `{out[k]['summary']}`" for k in ("build_new_shop", "build_grown_shop_finetuned") if k in out]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
