"""The ReDial second stage, trained on the fit dialogues only: out-of-fold pools, then the reranker.

The reranker (fusion/rerank.py, reading fusion/second_stage.py's features) must learn
from pools that look like the ones it will rerank when it serves, where no component
has seen the conversation. So the fit dialogues are cut into FOLDS parts by dialogue; for
each part the encoder (the chosen one's recipe, rerun without the part), and every
component (fusion/conversations.py) are refitted on the other parts, and the part's
samples (recommender and seeker turns that name a movie) are pooled by the very
pipeline the chat runs (fusion/recommender.py) under the chosen first-stage config.

Writes DIR/parts/ (per-part encoders and components) and DIR/reranker; both are reused
while their manifests match.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict
from pathlib import Path

FOLDS = 5


def fold_of(dialogue_id: str, folds: int = FOLDS) -> int:
    """A dialogue's part, stable across runs and machines."""
    return zlib.crc32(dialogue_id.encode()) % folds


def recipe() -> dict:
    """What decides the trained reranker besides its data: checked before reuse."""
    from fusion.rerank import RerankConfig
    from fusion.second_stage import FEATURES, K_NEIGHBOURS, N_EXTRA, N_FIRST

    return {"rerank": asdict(RerankConfig()), "folds": FOLDS, "pool": {"n_first": N_FIRST, "n_extra": N_EXTRA,
            "k_neighbours": K_NEIGHBOURS}, "features": list(FEATURES), "encoder_per_part": True}


def part_encoder(artifacts: Path, name: str, f: int, dialogues, catalog):
    """Encoder `name`'s fine-tuning recipe rerun on the dialogues outside part `f`
    (DIR/parts/<name>-<f>, reused while its manifest matches); the base model as is."""
    from retrieval.artifacts import read_manifest
    from retrieval.encoder import TransformerEncoder, base_model_dir
    from retrieval.finetune import FinetuneConfig, finetune_on_dialogues

    if name == "base":
        return TransformerEncoder()
    config = FinetuneConfig(**read_manifest(artifacts / name)["config"]["finetune"])
    folder = artifacts / "parts" / f"{name}-{f}"
    finetune_on_dialogues([d for d in dialogues if fold_of(d.dialogue_id) != f], catalog, base_model_dir(), folder,
                          config)
    return TransformerEncoder(folder)


def fingerprints(config, catalog, dialogues) -> dict[str, str]:
    from fusion.conversations import dialogues_fingerprint
    from fusion.second_stage import first_stage_fingerprint

    return {"catalog": catalog.fingerprint(), "dialogues": dialogues_fingerprint(dialogues),
            "first_stage": first_stage_fingerprint(config)}


def train_second_stage(artifacts: Path, name: str, config, dialogues, catalog, data_dir: Path) -> dict:
    """Fit the reranker for the first stage `config` over encoder `name`, or reuse it.
    Returns a summary of its training (pools, seconds)."""
    from fusion.conversations import fit_components, fit_linked_ratings, load_pipeline
    from fusion.rerank import Reranker
    from fusion.second_stage import FEATURES
    from retrieval.artifacts import StaleArtifactError, check_manifest, read_manifest
    from retrieval.dialogue import recommender_samples
    from retrieval.movielens import load_movielens

    from benchmarks.redial.protocol import sample_query

    folder = artifacts / "reranker"
    fps = fingerprints(config, catalog, dialogues)
    summary_keys = ("seconds", "n_pools", "mean_pool", "n_targets_in_pools", "folds", "n_samples")
    if (folder / "manifest.json").exists():
        try:
            manifest = check_manifest(folder, "reranker", fps, expected=recipe())
            print(f"reusing reranker {folder}", flush=True)
            return {k: manifest["config"].get(k) for k in summary_keys}
        except StaleArtifactError as e:
            print(f"retraining the second stage: {e}", flush=True)
    epochs = read_manifest(artifacts / "systems" / name / "head")["config"]["refit"]["head"]["epochs"]
    ratings = None  # the parts mirror the served components: linked ratings where it has them
    if (artifacts / "systems" / name / "ratings" / "manifest.json").exists():
        ratings = fit_linked_ratings(catalog, *load_movielens())
    stage = second_stage(catalog, data_dir, None)
    pools, targets, n_samples = [], [], 0
    for f in range(FOLDS):
        inside = [d for d in dialogues if fold_of(d.dialogue_id) != f]
        held = recommender_samples([d for d in dialogues if fold_of(d.dialogue_id) == f], seeker_turns=True)
        if not inside or not held:  # tiny data: a part with nothing to pool or to fit on
            continue
        start = time.perf_counter()
        encoder = part_encoder(artifacts, name, f, dialogues, catalog)
        comps = artifacts / "parts" / f"system-{name}-{f}"
        fit_components(inside, catalog, encoder, comps, ratings, head_epochs=epochs, progress=False)
        rec = load_pipeline(comps, catalog, encoder, config.with_(rerank=False))
        queries = [sample_query(s, new_items=False) for s in held]
        vectors = rec.embed_queries(queries)
        for s, q in zip(held, queries):
            pool = rec.pool(rec.request(q, vectors))
            _, _, first = rec.first_stage(pool, rec.fuser)
            pools.append(stage.features(pool, first)[1])
            targets.append(catalog.rows(list(s.target_ids)).tolist())
        n_samples += len(held)
        print(f"second stage: part {f + 1}/{FOLDS} pooled ({len(held)} samples, "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
    reranker, report = Reranker.fit(FEATURES, pools, targets)
    print(f"trained reranker in {report['seconds']:.0f} s on {report['n_pools']} pools", flush=True)
    reranker.save(folder, fps, {**report, **recipe(), "n_samples": n_samples, "encoder": name})
    return {k: check_manifest(folder, "reranker", fps)["config"].get(k) for k in summary_keys}


def second_stage(catalog, data_dir: Path, reranker):
    """A SecondStage over the ReDial catalog's DBpedia facts and titles."""
    from fusion.itemsim import FactSimilarity, TitleWords
    from fusion.second_stage import SecondStage
    from retrieval.redial import fact_tokens

    return SecondStage(reranker, FactSimilarity(fact_tokens(catalog, data_dir)),
                       TitleWords([it.title for it in catalog.items]))


def serving_second_stage(artifacts: Path, catalog, data_dir: Path):
    """The trained reranker in DIR/reranker inside a SecondStage (what the tuner tries on dev)."""
    from fusion.conversations import read_fingerprints
    from fusion.rerank import Reranker

    folder = artifacts / "reranker"
    return second_stage(catalog, data_dir, Reranker.load(folder, read_fingerprints(folder)))
