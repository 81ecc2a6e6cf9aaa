"""The ReDial second stage, trained on train.jsonl only: out-of-fold pools, then the reranker.

The reranker (fusion/rerank.py) must learn from pools that look like the ones it will
rerank at evaluation, where every model was fitted without the evaluated dialogues. So
train.jsonl is cut into FOLDS parts by dialogue; for each part the fine-tuned encoder
(same recipe as the chosen one), the head, the co-occurrence CF, the nearest-context
index and both priors are refitted on the other parts, and the part's samples
(recommender and seeker turns that name a movie) are pooled with them. With the chosen
encoder's own text scores, which are in-sample on train.jsonl, the reranker learnt to
trust text more than it earns on unseen dialogues.

Writes DIR/neighbours-<encoder> (the index over all of train.jsonl, for evaluation),
DIR/parts/ (the per-part encoders and their item vectors) and DIR/reranker; all are
reused while their manifests match.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

FOLDS = 5


def fold_of(dialogue_id: str, folds: int = FOLDS) -> int:
    """A dialogue's part, stable across runs and machines."""
    return zlib.crc32(dialogue_id.encode()) % folds


def recipe() -> dict:
    """What decides the trained reranker besides its data: checked before reuse."""
    from fusion.redial_pools import FEATURES, K_NEIGHBOURS, N_EXTRA, N_FIRST
    from fusion.rerank import RerankConfig

    return {"rerank": asdict(RerankConfig()), "folds": FOLDS, "pool": {"n_first": N_FIRST, "n_extra": N_EXTRA,
            "k_neighbours": K_NEIGHBOURS}, "features": list(FEATURES), "encoder_per_part": True}


def part_encoder(artifacts: Path, name: str, f: int, dialogues, catalog, retrain: bool = False):
    """(encoder, item vectors) for part `f`: encoder `name`'s fine-tuning recipe rerun on
    the dialogues outside part `f` (DIR/parts/, reused while its manifest matches)."""
    from fusion.evaluate import item_vectors, load_encoder
    from retrieval.artifacts import read_manifest
    from retrieval.encoder import base_model_dir
    from retrieval.finetune import FinetuneConfig, finetune_on_dialogues

    config = FinetuneConfig(**read_manifest(artifacts / name)["config"]["finetune"])
    folder = artifacts / "parts" / f"{name}-{f}"
    finetune_on_dialogues([d for d in dialogues if fold_of(d.dialogue_id) != f], catalog, base_model_dir(), folder,
                          config, retrain)
    encoder = load_encoder(artifacts / "parts", folder.name)
    return encoder, item_vectors(catalog, encoder, artifacts / "parts" / f"items-{folder.name}")


def train_second_stage(data_dir: Path, artifacts: Path, cfg, retrain: bool = False) -> dict:
    """Fit the neighbours index and the reranker for the first stage `cfg` (a
    RedialConfig), or reuse them. Returns the reranker folder's manifest."""
    from fusion.evaluate import (cf_scores, encode_contexts, fit_cooccurrence, fit_ratings_cooccurrence,
                                 fused_scores, head_fingerprints, item_similarities, item_vectors, load_encoder,
                                 prepare, redial_catalog, second_stage_fingerprints, second_stage_signals)
    from fusion.neighbours import ContextNeighbours
    from fusion.redial_pools import FEATURES, build_pools, mention_prior
    from fusion.rerank import Reranker
    from retrieval.artifacts import StaleArtifactError, check_manifest, read_manifest
    from retrieval.head import CatalogHead, HeadConfig, HeadExamples
    from retrieval.redial import load_dialogues, mention_counts, recommender_samples

    if cfg.n_turns != 0:
        raise ValueError("the second stage reads whole contexts: n_turns must be 0")
    catalog = redial_catalog(data_dir, cfg.item_genres)
    train_path = data_dir / "train.jsonl"
    folder = artifacts / "reranker"
    fps = second_stage_fingerprints(artifacts, cfg, catalog, train_path)
    neighbours_folder = artifacts / f"neighbours-{cfg.encoder}"
    neighbours_fps = head_fingerprints(artifacts, cfg.encoder, catalog, train_path)
    if not retrain and (folder / "manifest.json").exists() and (neighbours_folder / "manifest.json").exists():
        try:
            ContextNeighbours.load(neighbours_folder, neighbours_fps)
            manifest = check_manifest(folder, "reranker", fps, expected=recipe())
            print(f"reusing reranker {folder}", flush=True)
            return manifest
        except StaleArtifactError as e:
            print(f"retraining the second stage: {e}", flush=True)
    dialogues = load_dialogues(train_path, catalog)
    encoder = load_encoder(artifacts, cfg.encoder)
    vectors = item_vectors(catalog, encoder, artifacts / f"items-{cfg.encoder}")
    samples = recommender_samples(dialogues, seeker_turns=True)
    targets = [list(catalog.rows(list(s.target_ids))) for s in samples]
    histories = [list(catalog.rows(list(s.mentioned_ids))) for s in samples]
    all_queries = encode_contexts(samples, encoder, 0)
    ContextNeighbours.fit(all_queries, targets, len(catalog)).save(
        neighbours_folder, neighbours_fps, {"encoder": cfg.encoder, "n_contexts": len(samples)})

    head_recipe = replace(HeadConfig(), epochs=read_manifest(artifacts / f"head-{cfg.encoder}")
                          ["config"]["refit"]["head"]["epochs"])
    ratings_model = fit_ratings_cooccurrence(catalog) if cfg.ratings_weight else None
    counts = mention_counts(train_path)
    facts, titles = item_similarities(catalog, data_dir)
    part = np.array([fold_of(s.dialogue_id) for s in samples])
    pools, pool_targets = [], []
    for f in range(FOLDS):
        inside, held = np.flatnonzero(part != f), np.flatnonzero(part == f)
        if not len(inside) or not len(held):  # tiny data: a part with nothing to pool or to fit on
            continue
        start = time.perf_counter()
        if cfg.encoder == "base":  # fitted on nothing: out of sample everywhere
            part_enc, part_vectors, queries = encoder, vectors, all_queries
        else:
            part_enc, part_vectors = part_encoder(artifacts, cfg.encoder, f, dialogues, catalog, retrain)
            queries = encode_contexts(samples, part_enc, 0)
        head, _ = CatalogHead.fit(part_vectors, HeadExamples(queries[inside], [histories[i] for i in inside],
                                                             [targets[i] for i in inside]),
                                  HeadExamples.empty(part_vectors.shape[1]), head_recipe, progress=False)
        cf_model = fit_cooccurrence([d for d in dialogues if fold_of(d.dialogue_id) != f], catalog)
        neighbours = ContextNeighbours.fit(queries[inside], [targets[i] for i in inside], len(catalog))
        prior = mention_prior(catalog, [counts.get(d.dialogue_id, {}) for d in dialogues
                                        if fold_of(d.dialogue_id) == f])
        fold_samples = [samples[i] for i in held]
        prep = prepare(fold_samples, catalog, part_enc, part_vectors, 0, head, queries[held])
        cf = cf_scores(cf_model, fold_samples, catalog, cfg)
        ratings = (cf_scores(ratings_model, fold_samples, catalog, cfg) if ratings_model is not None
                   else np.zeros_like(cf))
        first = fused_scores(prep, cf, cf_model.popularity, cfg, ratings)
        latest = encode_contexts(fold_samples, part_enc, 1)
        pools += build_pools(prep, second_stage_signals(prep, first, cf, ratings, cf_model.popularity, neighbours,
                                                        latest, part_vectors, prior, facts, titles))
        pool_targets += prep.target_rows
        print(f"second stage: part {f + 1}/{FOLDS} pooled ({len(held)} samples, "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
    reranker, report = Reranker.fit(FEATURES, pools, pool_targets)
    print(f"trained reranker in {report['seconds']:.0f} s on {report['n_pools']} pools", flush=True)
    reranker.save(folder, fps, {**report, **recipe(), "n_samples": len(samples), "encoder": cfg.encoder})
    return check_manifest(folder, "reranker", fps)
