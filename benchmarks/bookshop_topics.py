"""A 10,000-book shop with shelves and descriptions: do shelf requests of several words work?

    python -m benchmarks.bookshop_topics [--items 10000] [--seed 0]

Generates a synthetic bookshop in a temporary folder (never committed), as a shop would
export it: `title`, `people:author`, `genres`, `year`, a `tags` column of shelves ("epic
fantasy", "cozy mystery", "space opera", ...: one or two per book from its genres' shelves)
and a `description` column (a generic sentence that does not name the shelf: the shelf is
in `tags` only), and a new shop's 99 ratings. Builds the bot as `launch.py --catalog FILE
--interactions FILE` does (the packaged MiniLM; too few ratings to fine-tune or tune), then
asks for every shelf in three phrasings in a fresh conversation:

- precision@10: the share of the top 10 that stand on the asked-for shelf;
- read: the share of requests whose reading named the shelf as a topic;
- ruled out: "a <genre> book, no <shelf>" for each shelf: the share of lists with no
  book of that shelf (1.0 = always left out);
- film words: replies containing "movie", "film" or "watch" (0 expected in a bookshop);
- turn time p50 / p95 over all those turns.

Writes benchmarks/results/bookshop_topics.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parent / "results"
# Shelves per genre, of one to three words, as bookshops name them.
SHELVES = {
    "Fantasy": ("epic fantasy", "urban fantasy", "sword and sorcery", "dragons"),
    "Mystery": ("cozy mystery", "police procedural", "locked room mystery"),
    "Romance": ("historical romance", "second chance romance", "vampire romance"),
    "Science Fiction": ("space opera", "time travel", "cyberpunk"),
    "History": ("world war ii", "ancient rome", "cold war"),
    "Biography": ("musicians", "explorers", "sports legends"),
    "Thriller": ("psychological thriller", "legal thriller", "spies"),
    "Horror": ("vampires", "haunted houses", "zombies"),
    "Children": ("picture books", "bedtime stories", "talking animals"),
    "Cooking": ("baking", "vegetarian cooking", "street food"),
    "Travel": ("road trips", "island hopping", "walking tours"),
    "Poetry": ("love poems", "war poetry"),
    "Philosophy": ("stoicism", "existentialism"),
    "Economics": ("behavioral economics", "financial crises"),
}
PHRASINGS = ("a {} book", "{} please", "anything from the {} shelf")
FILM_WORDS = re.compile(r"\b(?:movies?|films?|watch(?:ing)?)\b", re.IGNORECASE)


def write_shop(folder: Path, n_items: int, rng: random.Random) -> tuple[Path, Path, dict[str, set[str]]]:
    """The catalog CSV, its 99 ratings and shelf -> the ids of the books on it."""
    from benchmarks.catalog_build import FIRST, LAST, WORDS, write_log

    authors = [f"{f} {last}" for f in FIRST for last in LAST]
    genres = list(SHELVES)
    on_shelf: dict[str, set[str]] = {}
    genres_of = []
    catalog = folder / "books.csv"
    with catalog.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "title", "people:author", "genres", "year", "tags", "description"])
        for i in range(n_items):
            gs = tuple(rng.sample(genres, rng.choice((1, 2))))
            shelves = tuple(dict.fromkeys(rng.choice(SHELVES[g]) for g in gs for _ in range(rng.choice((1, 1, 2)))))
            for s in shelves:
                on_shelf.setdefault(s, set()).add(f"b{i}")
            title = "The " + " ".join(rng.sample(WORDS, rng.choice((1, 2))))
            a, b = rng.sample(WORDS, 2)
            description = f"A story of the {a.lower()} and the {b.lower()}, told over {rng.randint(2, 9)} chapters."
            w.writerow([f"b{i}", title, rng.choice(authors), "|".join(gs), rng.randint(1900, 2024), "|".join(shelves),
                        description])
            genres_of.append(gs)
    (folder / "catalog.json").write_text(json.dumps({"kind": {"noun": "book", "plural": "books", "verb": "read",
                                                              "synonyms": ["novel"]}}), encoding="utf-8")
    log = folder / "ratings.csv"
    write_log(log, n_items, genres_of, 5, 25, rng)
    lines = log.read_text(encoding="utf-8").splitlines()[:100]  # a new shop: 99 ratings
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return catalog, log, on_shelf


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    import launch
    from bot.conversation.state import Session

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog, log, on_shelf = write_shop(folder, args.items, rng)
        t0 = time.perf_counter()
        bot, _ = launch.make_bot(launch.parse_args(["--catalog", str(catalog), "--interactions", str(log),
                                                    "--artifacts", str(folder / "artifacts")]))
        build_s = time.perf_counter() - t0
        precision, read, ruled_out, film, times = {}, [], {}, 0, []
        for shelf in sorted(on_shelf):
            hits = []
            for phrasing in PHRASINGS:
                t = time.perf_counter()
                answer = bot.respond(phrasing.format(shelf), Session("shop"))
                times.append(time.perf_counter() - t)
                ids = [it.recommendation.item.item_id for it in answer.items[:10]]
                hits.append(sum(i in on_shelf[shelf] for i in ids) / 10)
                read.append(shelf in answer.session.readings[-1].topics)
                film += bool(FILM_WORDS.search(answer.reply))
            precision[shelf] = round(float(np.mean(hits)), 3)
            genre = next(g for g, shelves in SHELVES.items() if shelf in shelves)
            t = time.perf_counter()
            answer = bot.respond(f"a {genre.lower()} book, no {shelf}", Session("shop"))
            times.append(time.perf_counter() - t)
            film += bool(FILM_WORDS.search(answer.reply))
            ruled_out[shelf] = not any(it.recommendation.item.item_id in on_shelf[shelf] for it in answer.items)
    ms = np.array(times) * 1000
    out = {"items": args.items, "seed": args.seed, "shelves": len(on_shelf), "build_s": round(build_s, 1),
           "precision@10": round(float(np.mean(list(precision.values()))), 3), "per_shelf": precision,
           "read": round(float(np.mean(read)), 3), "ruled_out": round(float(np.mean(list(ruled_out.values()))), 3),
           "not_ruled_out": sorted(s for s, ok in ruled_out.items() if not ok), "film_word_replies": film,
           "turns": len(times), "p50_ms": round(float(np.percentile(ms, 50)), 1),
           "p95_ms": round(float(np.percentile(ms, 95)), 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bookshop_topics.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    md = ["# A 10,000-book shop with shelves", "", "`python -m benchmarks.bookshop_topics` (see its docstring).", "",
          "| books | shelves | build | precision@10 | shelf read | shelf ruled out | replies with film words "
          "| turns | p50 | p95 |", "|---|---|---|---|---|---|---|---|---|---|",
          f"| {args.items:,} | {len(on_shelf)} | {out['build_s']} s | {out['precision@10']:.3f} | {out['read']:.3f} "
          f"| {out['ruled_out']:.3f} | {film} | {len(times)} | {out['p50_ms']} ms | {out['p95_ms']} ms |", "",
          "| shelf | precision@10 |", "|---|---|"] + [f"| {s} | {v:.3f} |" for s, v in precision.items()]
    (RESULTS / "bookshop_topics.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in out.items() if k != "per_shelf"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
