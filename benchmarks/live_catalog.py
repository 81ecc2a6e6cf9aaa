"""Items added live against a full rebuild that had them from the start (issue 34 part 3).

    python -m benchmarks.live_catalog [--build-dir /tmp/live_catalog_build] [--build-only]

1. Builds the embedded MovieLens bot as `make run` does (fine-tuned encoder, tuned fusion,
   int8 queries) on the catalog without a seeded tenth of its movies and without their
   ratings, into --build-dir (about 9 minutes on 2 cores; reused when there).
2. Adds that tenth live, as POST /api/admin/catalog does (bot/service/admin.py
   `CatalogAdmin.update`: the loader reads the rows, the pipeline and the Bot are made
   anew, the change is recorded, the reference swapped): in one change of all of them
   (seconds per 1,000 items) and again in changes of 100 while a thread chats (turn
   latency p50 / p95 before and during the updates, the same scripted turns).
3. Reachability of each added movie: two requests written from its own catalog entry, one
   from its facets (genres, topics, director: "a crime thriller about heist, robbery,
   directed by Michael Mann") and one from its description (its first sentence, without
   the title); recall@10 of the movie in the bot's answer (`Bot.respond`, a new session
   each), live-added pipeline vs the shipped full build (artifacts/movielens, which had
   them, and their ratings, from the start).
Writes benchmarks/results/live_catalog.json, .md and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HELD_SHARE = 0.1  # the tenth of the movies held out of the build and added live
SEED = 0
BATCH = 100  # items per change while the chat runs
TURNS = ["a funny animated movie for kids", "something darker, a crime thriller", "a romantic comedy from the 90s",
         "a space adventure with aliens", "a heist movie", "a documentary about music", "a scary movie but not gore",
         "a war drama based on a true story"]


def held_out(catalog, interactions, share: float = HELD_SHARE, seed: int = SEED):
    """(the catalog without a seeded `share` of its items, its interactions without theirs,
    the held-out items in catalog order)."""
    from retrieval.records import Catalog, Interactions

    rng = np.random.default_rng(seed)
    held = np.zeros(len(catalog), bool)
    held[rng.choice(len(catalog), int(round(share * len(catalog))), replace=False)] = True
    keep_rows = np.flatnonzero(~held)
    new_row = np.full(len(catalog), -1, np.int64)
    new_row[keep_rows] = np.arange(len(keep_rows))
    kept = ~held[interactions.item_rows]
    reduced = Catalog(catalog.name, tuple(catalog.items[r] for r in keep_rows), catalog.kind, catalog.units)
    log = Interactions(interactions.user_ids[kept], new_row[interactions.item_rows[kept]],
                       interactions.weights[kept], interactions.timestamps[kept])
    return reduced, log, [catalog.items[r] for r in np.flatnonzero(held)]


def item_row(item) -> dict:
    """A catalog file's row for `item` (the columns of --catalog): its text as it is, so the
    live item reads as the rebuilt one does, and its facets in their columns."""
    row = {"item_id": item.item_id, "title": item.title, "year": item.year or "", "genres": "|".join(item.genres),
           "text": item.text, "description": item.fields.get("description", ""),
           "topics": "|".join(item.facets.topics())}
    row.update({f"people:{role}": "|".join(names) for role, names in item.facets.people.items()})
    row.update({f"num:{name}": value for name, value in item.facets.numbers.items()})
    row.update({f"cat:{name}": "|".join(v) for name, v in item.facets.categories.items() if name != "topic"})
    return row


def requests_for(item) -> dict[str, str]:
    """Two requests written from the item's own entry: its facets, its description."""
    out = {}
    genres = " ".join(g.lower() for g in item.genres[:2])
    topics = ", ".join(item.facets.topics()[:2])
    director = item.facets.names("director")[:1]
    facets = f"a {genres} movie" if genres else "a movie"
    facets += f" about {topics}" if topics else ""
    facets += f", directed by {director[0]}" if director else ""
    if facets != "a movie":
        out["facets"] = facets
    description = item.fields.get("description", "")
    first = re.split(r"(?<=[.!?])\s", description.strip(), maxsplit=1)[0]
    for word in re.findall(r"\w+", item.title):  # the title named is linking, not reaching
        if len(word) > 3:
            first = re.sub(rf"\b{re.escape(word)}\b", "", first, flags=re.IGNORECASE)
    first = " ".join(first.split()[:30])
    if len(first.split()) >= 4:
        out["description"] = first
    return out


def recall_at_10(bot, items, what: str) -> tuple[float, int]:
    """(share of `items` the bot lists in its first answer to their `what` request, n asked)."""
    hits, n = 0, 0
    for item in items:
        request = requests_for(item).get(what)
        if request is None:
            continue
        answer = bot.respond(request, bot.new_session("bench"))
        hits += item.item_id in {r.recommendation.item.item_id for r in answer.items}
        n += 1
    return hits / max(n, 1), n


def build(folder: Path, catalog, interactions):
    from fusion.build import load_or_build
    from fusion.config import PipelineConfig
    from retrieval.encoder import TransformerEncoder

    return load_or_build(catalog, interactions, TransformerEncoder(None), folder, PipelineConfig(alpha=0.7),
                         finetune=True, tune=True, int8_queries=True)


def timed_turns(holder, stop: threading.Event, out: list[float], min_turns: int = 0) -> None:
    i = 0
    while not stop.is_set() or i < min_turns:
        bot = holder.bot  # each turn reads the served bot once, as ChatService does
        bot.recommender.forget_texts()  # each turn embeds its words, as a new message does
        t0 = time.perf_counter()
        bot.respond(TURNS[i % len(TURNS)], bot.new_session(f"t{i}"))
        out.append((time.perf_counter() - t0) * 1000)
        i += 1


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", type=Path, default=Path(tempfile.gettempdir()) / "live_catalog_build")
    p.add_argument("--full", type=Path, default=ROOT / "artifacts" / "movielens", help="the full build")
    p.add_argument("--build-only", action="store_true")
    p.add_argument("--baseline-turns", type=int, default=200)
    p.add_argument("--contention", action="store_true",
                   help="only: turn latency while each part of an update runs alone in another thread "
                        "(live_catalog_contention.md)")
    args = p.parse_args(argv)
    from bot.conversation.chat import Bot
    from bot.service.admin import CatalogAdmin
    from bot.service.gate import apply_thread_budget, thread_budget
    from retrieval.movielens import load_movielens

    catalog, interactions = load_movielens()
    reduced, log, held = held_out(catalog, interactions)
    t0 = time.perf_counter()
    live_rec, report = build(args.build_dir, reduced, log)
    build_s = time.perf_counter() - t0
    if args.build_only:
        return 0
    apply_thread_budget(thread_budget(2))  # launch.py's default: 2 turns at once on these cores
    if args.contention:
        return contention(live_rec, held, args.baseline_turns)
    full_rec, _ = build(args.full, catalog, interactions)
    rows = [item_row(it) for it in held]
    print(f"{len(held)} movies held out; adding them live", flush=True)

    def fresh_holder():
        work = Path(tempfile.mkdtemp(prefix="live-bench-"))
        return argparse.Namespace(bot=Bot(live_rec)), work

    # (a) all in one change
    holder, work = fresh_holder()
    t0 = time.perf_counter()
    one = CatalogAdmin(holder, work).update(rows, [])
    one_s = time.perf_counter() - t0
    live_bot = holder.bot
    shutil.rmtree(work, ignore_errors=True)
    per_1000 = one_s * 1000 / len(held)
    print(f"one change of {len(held)}: {one_s:.1f} s ({per_1000:.1f} s per 1,000; encoding {one['encode_s']:.1f} s)",
          flush=True)
    # (b) turn latency: before, then during changes of BATCH items
    holder, work = fresh_holder()
    before: list[float] = []
    stop = threading.Event()
    stop.set()
    timed_turns(holder, stop, before, args.baseline_turns)
    during: list[float] = []
    stop = threading.Event()
    chatter = threading.Thread(target=timed_turns, args=(holder, stop, during))
    admin = CatalogAdmin(holder, work)
    batch_s = []
    chatter.start()
    for start in range(0, len(rows), BATCH):
        t0 = time.perf_counter()
        admin.update(rows[start:start + BATCH], [])
        batch_s.append(time.perf_counter() - t0)
    stop.set()
    chatter.join()
    after: list[float] = []
    stop = threading.Event()
    stop.set()
    timed_turns(holder, stop, after, args.baseline_turns)
    shutil.rmtree(work, ignore_errors=True)
    assert len(holder.bot.catalog) == len(catalog)
    print(f"turns p95 before {pct(before, 95):.1f} ms, during {pct(during, 95):.1f} ms ({len(during)} turns), "
          f"after {pct(after, 95):.1f} ms", flush=True)
    # (c) reachability
    full_bot = Bot(full_rec)
    reach = {}
    for what in ("facets", "description"):
        live_r, n = recall_at_10(live_bot, held, what)
        full_r, _ = recall_at_10(full_bot, held, what)
        reach[what] = {"n": n, "live": round(live_r, 4), "full": round(full_r, 4),
                       "relative": round(live_r / full_r - 1, 4) if full_r else None}
        print(f"{what}: recall@10 live {live_r:.3f}, full rebuild {full_r:.3f} (n={n})", flush=True)
    result = {
        "catalog": f"{catalog.name}: {len(catalog):,} movies, {len(interactions):,} ratings",
        "held_out": len(held), "seed": SEED, "build_s": round(build_s, 1), "build": report.summary,
        "one_change": {"items": len(held), "seconds": round(one_s, 2), "encode_s": one["encode_s"],
                       "seconds_per_1000": round(per_1000, 2)},
        "batches": {"items": BATCH, "seconds": [round(s, 2) for s in batch_s],
                    "mean_s": round(statistics.mean(batch_s), 2)},
        "latency_ms": {k: {"turns": len(v), "p50": round(pct(v, 50), 1), "p95": round(pct(v, 95), 1)}
                       for k, v in (("before", before), ("during", during), ("after", after))},
        "reachability": reach,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "goals": {"seconds_per_1000": 60, "p95_increase": 0.2, "recall_within": 0.05},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live_catalog.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result)
    plot(result, before, during, after)
    return 0


def contention(recommender, held, turns: int) -> int:
    """Turn latency while one part of an update runs in another thread: embedding 300 item
    texts (torch), building the Bot of a catalog (its readers: pure Python under the GIL)."""
    from bot.conversation.chat import Bot
    from bot.service.admin import UPDATE_SWITCH_S, short_switches

    holder = argparse.Namespace(bot=Bot(recommender))
    texts = [it.text for it in held][:300]
    rows = []

    def run(name: str, work) -> None:
        out: list[float] = []
        stop = threading.Event()
        if work is None:
            stop.set()
            timed_turns(holder, stop, out, turns)
            seconds = 0.0
        else:
            chatter = threading.Thread(target=timed_turns, args=(holder, stop, out))
            chatter.start()
            t0 = time.perf_counter()
            work()
            seconds = time.perf_counter() - t0
            stop.set()
            chatter.join()
        rows.append(f"| {name} | {seconds:.1f} | {len(out)} | {pct(out, 50):.1f} | {pct(out, 95):.1f} |")
        print(rows[-1], flush=True)

    run("nothing (turns alone)", None)
    run("idle (sleep 8 s)", lambda: time.sleep(8))
    run("embedding 300 item texts", lambda: recommender.retriever.encoder.encode(texts))
    run("building the Bot 4 times", lambda: [Bot(recommender) for _ in range(4)])

    def short_bots():
        with short_switches():
            [Bot(recommender) for _ in range(4)]

    run(f"building the Bot 4 times, switch interval {UPDATE_SWITCH_S * 1000:g} ms (as updates run)", short_bots)
    md = ["# Live catalog: what slows the turns during an update", "",
          "`python -m benchmarks.live_catalog --contention`: scripted turns (each embedding its words) in one "
          "thread while one part of an update runs in another, on the build without the held-out tenth.", "",
          "| beside the turns | seconds | turns | p50 ms | p95 ms |", "|---|---|---|---|---|", *rows, ""]
    (RESULTS / "live_catalog_contention.md").write_text("\n".join(md))
    return 0


def write_markdown(r: dict) -> None:
    lat, reach, one = r["latency_ms"], r["reachability"], r["one_change"]
    inc = lat["during"]["p95"] / lat["before"]["p95"] - 1
    md = ["# Live catalog: movies added while the bot serves vs a full rebuild", "",
          f"`python -m benchmarks.live_catalog` on {r['catalog']}; {r['held_out']} movies (a seeded tenth, seed "
          f"{r['seed']}) held out of the build and their ratings with them, then added live through "
          "`CatalogAdmin.update` (what POST /api/admin/catalog runs). Full rebuild: the shipped "
          "`artifacts/movielens`, which had them and their ratings from the start. "
          f"{r['machine']['cpus']} cores, shared with other work.", "",
          "| measure | live | goal | met |", "|---|---|---|---|",
          f"| seconds per 1,000 items added (one change of {one['items']}: {one['seconds']} s, encoding "
          f"{one['encode_s']} s) | {one['seconds_per_1000']} | under 60 | "
          f"{'yes' if one['seconds_per_1000'] < 60 else 'no'} |",
          f"| turn p95, before / during changes of {r['batches']['items']} (ms) | {lat['before']['p95']} / "
          f"{lat['during']['p95']} ({inc:+.0%}) | at most +20% | {'yes' if inc <= 0.2 else 'no'} |"]
    for what, v in reach.items():
        rel = v["relative"]
        md.append(f"| recall@10 of the added movies, requests from their {what} (n={v['n']}): live / full rebuild | "
                  f"{v['live']:.3f} / {v['full']:.3f} ({rel:+.1%}) | within 5% | "
                  f"{'yes' if rel is not None and rel >= -0.05 else 'no'} |")
    md += ["", "Turn latency (ms):", "", "| phase | turns | p50 | p95 |", "|---|---|---|---|"]
    md += [f"| {k} | {v['turns']} | {v['p50']} | {v['p95']} |" for k, v in lat.items()]
    md += ["", f"Changes of {r['batches']['items']} items while the chat ran took {r['batches']['mean_s']} s each "
               f"on average ({', '.join(str(s) for s in r['batches']['seconds'])}).",
           "", f"The build without the held-out tenth: {r['build']} ({r['build_s']} s here, reused when present).",
           "", "![reachability and latency](live_catalog.png)", ""]
    (RESULTS / "live_catalog.md").write_text("\n".join(md))
    print("\n".join(md))


def plot(r: dict, before: list[float], during: list[float], after: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    whats = list(r["reachability"])
    x = np.arange(len(whats))
    a.bar(x - 0.2, [r["reachability"][w]["live"] for w in whats], 0.4, label="added live")
    a.bar(x + 0.2, [r["reachability"][w]["full"] for w in whats], 0.4, label="full rebuild")
    a.set_xticks(x, [f"requests from {w}" for w in whats])
    a.set_ylabel("recall@10 of the added movies")
    a.legend()
    b.boxplot([before, during, after], showfliers=False)
    b.set_xticks([1, 2, 3], ["before", f"during changes\nof {r['batches']['items']}", "after"])
    b.set_ylabel("turn time (ms)")
    fig.tight_layout()
    fig.savefig(RESULTS / "live_catalog.png", dpi=120)


if __name__ == "__main__":
    sys.exit(main())
