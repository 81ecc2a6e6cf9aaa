"""Per-turn cost against catalog size: synthetic catalogs of 10k to 1M items, one real Bot.

    python -m benchmarks.scale --sizes 10000,100000,1000000 [--turns 30] [--tag after]

For each size, in a fresh child process (so peak memory is that size's own):

- a synthetic catalog: every item is a perturbed copy of a real MovieLens movie (its
  genres, year and a runtime/MPAA facet), titled with 2-3 words drawn from real titles;
  its vector is the real movie's vector (the base MiniLM encoder, encoded once and cached
  under artifacts/scale/) plus Gaussian noise, re-normalised: clustered like real item
  vectors, without encoding 1M texts on 2 cores (encoding a catalog is not what this
  measures, and it scales out separately);
- power-law interactions (item popularity ~ 1/rank^0.9, ~20 events per user, a tenth as
  many users as items) and 30 planted users with ~200 liked items each;
- the project's own `Retriever` (FAISS index as `IndexConfig` chooses it), item-kNN CF
  (EASE cannot be fitted at 1M), `Recommender` and `Bot`, and the real query encoder.

Then each turn kind runs `--turns` times through `Bot.respond`, with the query-text cache
cleared first, so every timed turn pays the encoder: a plain request, "I loved <title>",
the same title with a typo, "not the first one" after a list, a known user with ~200
likes, a year filter, a genre ban and a facet filter. One thread per library
(torch, FAISS, BLAS) so sizes compare on one core. Writes benchmarks/results/scale[_tag]
.json/.md and a plot of p95 against size; the 1M/10k ratio is the headline.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread per library, set before numpy/torch/faiss load
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path("artifacts") / "scale"
KINDS = ("plain", "liked", "typo", "dislike", "known_user", "year", "ban", "facet")
PLAIN = ["a funny animated movie for kids", "a gritty crime thriller", "romantic comedy for a date night",
         "a space adventure with aliens", "a documentary about music", "epic war movie with big battles",
         "scary movie with ghosts", "a classic western", "a feel-good musical", "a mind-bending sci-fi story"]
YEAR = ["a crime thriller from after 2000", "a comedy from the 90s", "an adventure before 1980"]
BAN = ["a thriller, no horror", "something exciting but no comedies", "a family movie, no animation"]
FACET = ["a comedy under 100 minutes", "a drama rated PG-13", "an action movie over 2 hours"]
PLANTED = 30  # users with a long history
PLANTED_LIKES = 200  # liked items each (rated 5; 100 more rated 2 set their mean below 5)
NOISE = 0.6  # norm of the Gaussian perturbation of a unit vector: cosine ~0.85 to its real movie
EVENTS_PER_USER = 20  # mean interactions of a synthetic user
ZIPF = 0.9  # popularity ~ 1 / rank**ZIPF


def base_movies(cache: Path):
    """(MovieLens catalog, its item vectors by the base encoder): encoded once, cached."""
    from retrieval.movielens import load_movielens

    catalog, _ = load_movielens()
    path = cache / "movielens_base_vectors.npy"
    if path.exists():
        vectors = np.load(path, allow_pickle=False)
        if len(vectors) == len(catalog):
            return catalog, vectors
    from retrieval.encoder import TransformerEncoder

    print(f"encoding the {len(catalog):,} MovieLens texts once (cached in {path})", flush=True)
    vectors = TransformerEncoder().encode(catalog.texts(), progress=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return catalog, vectors


def synthetic(n: int, base, base_vectors: np.ndarray, seed: int = 0):
    """(Catalog, Interactions, vectors float32 (n, dim), planted user ids)."""
    from retrieval.facets import MOVIE, Facets
    from retrieval.loaders import item_text
    from retrieval.records import Catalog, Interactions, Item

    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(base), n)
    words = sorted({w for it in base.items for w in it.title.replace(",", " ").split()
                    if w.isalpha() and len(w) >= 3})
    n_words = rng.integers(2, 4, n)
    picks = rng.integers(0, len(words), (n, 3))
    runtimes = rng.integers(70, 180, n)
    mpaa = np.array(["G", "PG", "PG-13", "R", ""])[rng.integers(0, 5, n)]
    facet_pool: dict[tuple[int, str], Facets] = {}  # shared objects: 550 distinct facet sets
    items = []
    for i in range(n):
        b = base.items[src[i]]
        title = " ".join(words[j].capitalize() for j in picks[i, :n_words[i]])
        key = (int(runtimes[i]) // 5 * 5, str(mpaa[i]))
        facets = facet_pool.get(key) or facet_pool.setdefault(
            key, Facets({}, {"runtime": float(key[0])}, {"mpaa": (key[1],)} if key[1] else {}))
        items.append(Item(f"s{i}", title, item_text(title, b.year, b.genres), b.year, b.genres, facets=facets))
    catalog = Catalog(f"synthetic-{n}", tuple(items), kind=MOVIE)
    vectors = np.empty((n, base_vectors.shape[1]), np.float32)
    for s in range(0, n, 100_000):  # chunks keep the temporary noise small
        e = min(n, s + 100_000)
        v = base_vectors[src[s:e]] + rng.normal(0, NOISE / np.sqrt(base_vectors.shape[1]),
                                                (e - s, base_vectors.shape[1])).astype(np.float32)
        vectors[s:e] = v / np.linalg.norm(v, axis=1, keepdims=True)
    # power-law interactions
    n_users = max(1000, n // 10)
    popularity = 1.0 / np.arange(1, n + 1) ** ZIPF
    rank_of = rng.permutation(n)  # item rank_of[r] has popularity rank r
    cdf = np.cumsum(popularity) / popularity.sum()
    per_user = rng.geometric(1.0 / EVENTS_PER_USER, n_users)
    users = np.repeat(np.arange(n_users), per_user)
    item_rows = rank_of[np.minimum(np.searchsorted(cdf, rng.random(len(users))), n - 1)]
    ratings = rng.integers(1, 6, len(users)).astype(np.float32)
    # planted users: 200 likes among the 5,000 most popular items of a few base genres, 100 dislikes
    planted_ids, p_users, p_rows, p_ratings = [], [], [], []
    head = rank_of[:5000]
    for p in range(PLANTED):
        liked = rng.choice(head, PLANTED_LIKES, replace=False)
        other = rng.choice(np.setdiff1d(head, liked), 100, replace=False)
        planted_ids.append(f"planted{p}")
        p_users += [f"planted{p}"] * (PLANTED_LIKES + 100)
        p_rows += liked.tolist() + other.tolist()
        p_ratings += [5.0] * PLANTED_LIKES + [2.0] * 100
    user_ids = np.array([f"u{u}" for u in users] + p_users, dtype=object)
    inter = Interactions(user_ids, np.concatenate([item_rows, np.array(p_rows, np.int64)]).astype(np.int64),
                         np.concatenate([ratings, np.array(p_ratings, np.float32)]),
                         np.zeros(len(user_ids), np.int64))
    return catalog, inter, vectors, planted_ids


def typo(title: str, rng) -> str:
    """The title with one letter dropped from its longest word (a typo the linker must forgive)."""
    words = title.split()
    j = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[j]
    k = int(rng.integers(1, len(w) - 1))
    words[j] = w[:k] + w[k + 1:]
    return " ".join(words)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_size(n: int, turns: int, cache: Path, seed: int = 0) -> dict:
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    threadpool_limits(1)

    from bot.conversation.chat import Bot
    from fusion.cf import ItemKNN
    from fusion.config import PipelineConfig
    from fusion.recommender import Recommender
    from retrieval.encoder import TransformerEncoder
    from retrieval.index import FaissIndex
    from retrieval.retriever import Retriever

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    base, base_vectors = base_movies(cache)
    encoder = TransformerEncoder()
    timings["load_base_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    catalog, inter, vectors, planted = synthetic(n, base, base_vectors, seed)
    timings["synthesize_s"] = time.perf_counter() - t
    print(f"[{n:,}] synthesized in {timings['synthesize_s']:.1f}s ({len(inter):,} interactions)", flush=True)
    t = time.perf_counter()
    index = FaissIndex.build(vectors)
    timings["index_s"] = time.perf_counter() - t
    print(f"[{n:,}] index {index.describe()} in {timings['index_s']:.1f}s", flush=True)
    t = time.perf_counter()
    cf = ItemKNN.fit(inter, n)
    timings["cf_s"] = time.perf_counter() - t
    t = time.perf_counter()
    bot = Bot(Recommender(Retriever(catalog, encoder, vectors, index), cf, PipelineConfig()))
    timings["bot_s"] = time.perf_counter() - t
    timings["build_total_s"] = sum(v for k, v in timings.items() if k != "load_base_s")
    rss_built = rss_mb()
    print(f"[{n:,}] built in {timings['build_total_s']:.1f}s, RSS {rss_built:,.0f} MB", flush=True)

    rng = np.random.default_rng(seed + 1)
    counts = np.asarray(cf.counts)
    popular = np.argsort(-counts, kind="stable")[:2000]
    linkable = [r for r in popular.tolist() if len(catalog.items[r].title) >= 12
                and len(catalog.items[r].title.split()) >= 2][:500]
    rec = bot.recommender
    linked = {"liked": 0, "typo": 0}

    def turn(kind: str, i: int):
        """(session before the timed message, the message, expected liked id or None)."""
        s = bot.new_session(f"{kind}-{i}", planted[i % len(planted)] if kind == "known_user" else None)
        if kind in ("plain", "known_user"):
            return s, PLAIN[i % len(PLAIN)], None
        if kind in ("liked", "typo"):
            item = catalog.items[linkable[int(rng.integers(0, len(linkable)))]]
            title = item.title if kind == "liked" else typo(item.title, rng)
            return s, f"I loved {title}", item.item_id
        if kind == "dislike":
            s = bot.respond(PLAIN[i % len(PLAIN)], s).session  # untimed: the list to point at
            return s, "not the first one", None
        return s, {"year": YEAR, "ban": BAN, "facet": FACET}[kind][i % 3], None

    out: dict[str, dict] = {}
    load = os.getloadavg()[0]
    for kind in KINDS:
        ms, cpu, first = [], [], None
        for i in range(turns + 2):  # 2 untimed warm-up turns per kind (the first is reported)
            session, message, expect = turn(kind, i)
            rec.forget_texts()  # every timed turn pays the encoder
            t, c = time.perf_counter(), time.process_time()
            after = bot.respond(message, session)
            dt, dc = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
            if i == 0:
                first = dt
            if i >= 2:
                ms.append(dt)
                cpu.append(dc)  # CPU time of the process: the turn's own work, less the waiting
                if expect is not None:  # on a shared machine (one thread per library)
                    linked[kind] += expect in after.session.liked_ids
        a, c = np.array(ms), np.array(cpu)
        out[kind] = {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                     "mean": float(a.mean()), "max": float(a.max()), "first": first, "turns": len(a),
                     "cpu_p50": float(np.percentile(c, 50)), "cpu_p95": float(np.percentile(c, 95))}
        print(f"[{n:,}] {kind:<10} p50 {out[kind]['p50']:7.1f}  p95 {out[kind]['p95']:7.1f} ms wall;"
              f" CPU p50 {out[kind]['cpu_p50']:7.1f}  p95 {out[kind]['cpu_p95']:7.1f} ms  (first {first:.0f} ms)",
              flush=True)
    result = {"size": n, "interactions": len(inter), "index": index.describe(), "timings": timings,
              "load_average": [load, os.getloadavg()[0]],
              "rss_built_mb": rss_built, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "turns": out, "linked": {k: v / turns for k, v in linked.items()}}
    recall = getattr(index, "filtered_recall", None)
    if recall is not None:  # the index's recall@10 against exact search, with and without a filter
        masks = {"none": None, "year>2000": bot.recommender.filters.years() > 2000,
                 "runtime<100": np.array([it.facets.numbers.get("runtime", 1e9) < 100 for it in catalog.items])}
        result["filtered_recall_at_10"] = {name: recall(vectors, m, seed=seed) for name, m in masks.items()}
        print(f"[{n:,}] recall@10 {result['filtered_recall_at_10']}", flush=True)
    return result


def markdown(results: list[dict], command: str) -> str:
    sizes = [r["size"] for r in results]
    lines = [f"# Per-turn latency against catalog size ({results[0].get('tag') or 'this tree'})", "",
             f"`{command}`", "",
             "Synthetic catalogs (perturbed MiniLM vectors of real MovieLens movies: encoding is not measured here), "
             "power-law interactions, 30 planted users with ~200 likes; the real query encoder, Retriever, "
             "item-kNN CF, Recommender and Bot; one thread per library (torch, FAISS, BLAS). "
             "Per-turn wall time p50 / p95 in ms through `Bot.respond`, query cache cleared before each turn.", ""]
    head = "| turn kind | " + " | ".join(f"{s:,}" for s in sizes) + " |"
    if len(sizes) > 1:
        head += f" {sizes[-1]:,} / {sizes[0]:,} (p95) |"
    lines += [head, "|---" * (len(sizes) + 1 + (len(sizes) > 1)) + "|"]
    for kind in KINDS:
        cells = [f"{r['turns'][kind]['p50']:.1f} / {r['turns'][kind]['p95']:.1f}" for r in results]
        row = f"| {kind} | " + " | ".join(cells) + " |"
        if len(sizes) > 1:
            row += f" {results[-1]['turns'][kind]['p95'] / results[0]['turns'][kind]['p95']:.1f}x |"
        lines.append(row)
    lines += ["", "The same turns in process CPU time (p50 / p95 ms): the turn's own work, less the time it waited "
              "for a core on the shared machine (the load average during each size is in the last table).", "",
              head, "|---" * (len(sizes) + 1 + (len(sizes) > 1)) + "|"]
    for kind in KINDS:
        cells = [f"{r['turns'][kind].get('cpu_p50', np.nan):.1f} / {r['turns'][kind].get('cpu_p95', np.nan):.1f}"
                 for r in results]
        row = f"| {kind} | " + " | ".join(cells) + " |"
        if len(sizes) > 1:
            ratio = results[-1]["turns"][kind].get("cpu_p95", np.nan) / results[0]["turns"][kind].get("cpu_p95", np.nan)
            row += f" {ratio:.1f}x |"
        lines.append(row)
    lines += ["", "| size | index | build s (index / CF / bot) | RSS built MB | peak RSS MB | linked (exact / typo) "
              "| load average (start, end) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        t = r["timings"]
        lines.append(f"| {r['size']:,} | {r['index'].get('factory', r['index'].get('kind'))} | "
                     f"{t['build_total_s']:.0f} ({t['index_s']:.0f} / {t['cf_s']:.0f} / {t['bot_s']:.0f}) | "
                     f"{r['rss_built_mb']:,.0f} | {r['peak_rss_mb']:,.0f} | "
                     f"{r['linked']['liked']:.2f} / {r['linked']['typo']:.2f} | "
                     + " / ".join(f"{v:.1f}" for v in r.get("load_average", [])) + " |")
    if any("filtered_recall_at_10" in r for r in results):
        lines += ["", "Recall@10 of the index's (filtered) search against exact search over the same rows:", ""]
        for r in results:
            if "filtered_recall_at_10" in r:
                lines.append(f"- {r['size']:,}: " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                              r["filtered_recall_at_10"].items()))
    lines += ["", f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other "
              f"jobs (see the load average per size); Python {platform.python_version()}."]
    return "\n".join(lines) + "\n"


def plot(results: list[dict], path: Path) -> None:
    """p95 against size per turn kind: wall time (left) and process CPU time (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    sizes = [r["size"] for r in results]
    for ax, key, title in ((axes[0], "p95", "wall time"), (axes[1], "cpu_p95", "process CPU time")):
        for kind in KINDS:
            ax.plot(sizes, [r["turns"][kind].get(key, np.nan) for r in results], marker="o", label=kind)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(100, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("catalog size (items)")
        ax.set_title(f"p95 {title} per turn (1 thread per library)")
    axes[0].set_ylabel("ms")
    axes[0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--turns", type=int, default=30, help="timed turns per kind and size")
    p.add_argument("--tag", default="", help="suffix of the result files, e.g. 'before'")
    p.add_argument("--cache", type=Path, default=CACHE, help="where the encoded base vectors are kept")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--one-size", type=int, default=None, help=argparse.SUPPRESS)  # the child process
    p.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--replot", action="store_true", help="redraw the plot and table of the saved JSON of --tag")
    args = p.parse_args(argv)
    stem = "scale" + (f"_{args.tag}" if args.tag else "")
    if args.replot:
        saved = json.loads((args.out / f"{stem}.json").read_text())
        (args.out / f"{stem}.md").write_text(markdown(saved["results"], saved["command"]))
        plot(saved["results"], args.out / f"{stem}.png")
        return 0
    if args.one_size is not None:
        result = run_size(args.one_size, args.turns, args.cache)
        args.child_out.write_text(json.dumps(result, indent=1))
        return 0
    base_movies(args.cache)  # encode once before the children start
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        child_out = args.out / f".scale_{n}.json"
        args.out.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmarks.scale", "--one-size", str(n), "--turns", str(args.turns),
                        "--cache", str(args.cache), "--child-out", str(child_out)], check=True)
        result = json.loads(child_out.read_text())
        child_out.unlink()
        result["wall_s"] = time.perf_counter() - t
        result["tag"] = args.tag
        results.append(result)
    command = "python -m benchmarks.scale " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / f"{stem}.json").write_text(json.dumps({"command": command, "results": results}, indent=1))
    md = markdown(results, command)
    (args.out / f"{stem}.md").write_text(md)
    plot(results, args.out / f"{stem}.png")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
