"""One training step on a tiny random BERT (no weights, seconds): the loop runs, early
stopping bookkeeping holds, and the saved folder loads as a TransformerEncoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.finetune import FinetuneConfig, contrastive_loss, finetune, set_trainable
from retrieval.pairs import Pair


def pairs_for(catalog) -> list[Pair]:
    return [Pair(f"I want {it.genres[0].lower()} like {it.title}", it.item_id) for it in catalog.items]


def test_one_step_run_saves_a_loadable_model(tmp_path: Path, tiny_model: Path, tiny_catalog) -> None:
    from retrieval.encoder import TransformerEncoder

    pairs = pairs_for(tiny_catalog)
    texts = {it.item_id: it.text for it in tiny_catalog.items}
    out = tmp_path / "out"
    cfg = FinetuneConfig(max_steps=1, batch_size=8, eval_every=1, patience=1, val_pool=12, mixed_precision="no")
    result = finetune(tiny_model, pairs[:8], pairs[8:], texts, out, cfg, progress=False)
    assert result.steps == 1 and [s for s, _ in result.history] == [0, 1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "finetuned-encoder"
    assert manifest["config"]["finetune"]["max_steps"] == 1 and manifest["fingerprints"]["train_pairs"]
    enc = TransformerEncoder(out, max_length=32)
    v = enc.encode(tiny_catalog.texts())
    assert v.shape == (12, 32) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_one_step_changes_weights_without_validation(tmp_path: Path, tiny_model: Path, tiny_catalog) -> None:
    from safetensors.numpy import load_file

    pairs = pairs_for(tiny_catalog)
    texts = {it.item_id: it.text for it in tiny_catalog.items}
    cfg = FinetuneConfig(max_steps=1, batch_size=12, lr=1e-3, trainable="top:1", mixed_precision="no")
    finetune(tiny_model, pairs, [], texts, tmp_path / "out", cfg, progress=False)
    before, after = load_file(tiny_model / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed and all(".layer.1." in k for k in changed)  # only the top layer trained


def test_set_trainable_rejects_bad_settings(tiny_model: Path) -> None:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_model)
    assert set_trainable(model, "top:1") < set_trainable(model, "all")
    for bad in ("top:3", "head", "top:0"):
        with pytest.raises(ValueError):
            set_trainable(model, bad)


def test_contrastive_loss_prefers_the_right_item() -> None:
    import torch

    eye = torch.eye(3)
    good = contrastive_loss(eye, eye, torch.tensor([0, 1, 2]), scale=20.0)
    bad = contrastive_loss(eye, eye, torch.tensor([1, 2, 0]), scale=20.0)
    assert float(good) < 1e-6 < 10.0 < float(bad)


def test_first_run_build_finetunes_once(tmp_path: Path, tiny_model: Path, tiny_catalog, checkerboard,
                                        monkeypatch) -> None:
    """launch.py's first-run path: fine-tune on the interactions, embed with the result; a
    second launch reuses both (manifest checked) instead of retraining."""
    import retrieval.finetune as ft
    from fusion.build import load_or_build
    from retrieval.encoder import TransformerEncoder

    # The real recipe's 90 steps x 4,000 pairs, shrunk to seconds for the tiny model.
    monkeypatch.setattr(ft, "CATALOG_RECIPE", FinetuneConfig(max_steps=4, batch_size=8, eval_every=2,
                                                             val_pool=12, mixed_precision="no"))
    monkeypatch.setattr(ft, "CATALOG_PAIRS", 80)
    # the checkerboard's 8 users: 6 train, 2 held out whole for validation
    monkeypatch.setattr(ft, "MIN_FINETUNE_USERS", 4)
    monkeypatch.setattr(ft, "MIN_FINETUNE_PAIRS", 12)
    monkeypatch.setattr(ft, "MIN_VALID_USERS", 2)

    base = TransformerEncoder(tiny_model, max_length=32)
    rec, report = load_or_build(tiny_catalog, checkerboard, base, tmp_path / "art", progress=False, finetune=True)
    assert "encoder" in report.built and "text" in report.built
    assert (tmp_path / "art" / "encoder" / "manifest.json").exists()
    assert rec.retriever.encoder.model_dir == tmp_path / "art" / "encoder"
    _, again = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32),
                             tmp_path / "art", progress=False, finetune=True)
    assert "encoder" not in again.built and "text" not in again.built
    # an index of another encoder's vectors is redone; the fine-tuned encoder is reused, not "built"
    from retrieval.retriever import Retriever

    Retriever.build(tiny_catalog, TransformerEncoder(tiny_model, max_length=16)).save(tmp_path / "art" / "text")
    _, third = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32),
                             tmp_path / "art", progress=False, finetune=True)
    assert "text" in third.built and "encoder" not in third.built
    # int8 queries (launch.py's default): the fine-tuned weights embed what people say in
    # int8, the items keep their float32 vectors (nothing re-encoded), and tools loading the
    # folder (cold-start benchmark, fusion.tune, bot.offline.learn) hear requests the same way
    from fusion.build import served_retriever

    int8, fourth = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32),
                                 tmp_path / "art", progress=False, finetune=True, int8_queries=True)
    assert "text" not in fourth.built and "encoder" not in fourth.built
    queries, items = int8.retriever.query_encoder, int8.retriever.encoder
    assert queries.int8 and not items.int8 and queries.model_dir == items.model_dir == tmp_path / "art" / "encoder"
    np.testing.assert_array_equal(int8.retriever.item_vectors, Retriever.load(
        tmp_path / "art" / "text", tiny_catalog, TransformerEncoder(tmp_path / "art" / "encoder", 32)).item_vectors)
    loaded = served_retriever(tiny_catalog, tmp_path / "art")
    assert loaded.query_encoder.int8 and not loaded.encoder.int8
    query = tiny_catalog.items[0].text
    np.testing.assert_allclose(loaded.query_vector([query]), int8.retriever.query_vector([query]), atol=1e-6)
    assert not np.allclose(int8.retriever.query_vector([query]), rec.retriever.query_vector([query]), atol=1e-6)
    _, fifth = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32),
                             tmp_path / "art", progress=False, finetune=True)
    assert not served_retriever(tiny_catalog, tmp_path / "art").query_encoder.int8  # the last build's choice
    # damaged weights are refused like every other artifact, not retrained on the serving box
    from retrieval.artifacts import StaleArtifactError

    weights = tmp_path / "art" / "encoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-16:] = bytes(16)
    weights.write_bytes(bytes(data))
    before = weights.stat().st_mtime_ns
    with pytest.raises(StaleArtifactError, match="model.safetensors changed since it was built"):
        load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32),
                      tmp_path / "art", progress=False, finetune=True)
    assert weights.stat().st_mtime_ns == before  # nothing was trained over it


def test_cached_top_layers_match_the_full_forward(tiny_model: Path, tiny_catalog) -> None:
    """The top:K fast path (frozen layers run once, cached) embeds like the whole model."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from retrieval.encoder import mean_pool
    from retrieval.finetune import _TopLayers

    model = AutoModel.from_pretrained(tiny_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)

    def tok(texts, max_length):
        return tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")

    texts = tiny_catalog.texts()
    with torch.inference_mode():
        full = mean_pool(model, tok(texts, 32))
        fast = _TopLayers(model, tok, 1)(model, texts, 32)
    assert torch.allclose(full, fast, atol=2e-3)  # fp16 cache of the frozen layers


def test_small_logs_are_not_fine_tuned_on(tmp_path: Path, tiny_model: Path, tiny_catalog, checkerboard) -> None:
    """The checkerboard's 8 users are far below MIN_FINETUNE_USERS: nothing trains, the
    build says why, and the vectors come from the encoder as given."""
    from fusion.build import load_or_build
    from retrieval.artifacts import read_manifest
    from retrieval.encoder import TransformerEncoder
    from retrieval.finetune import MIN_FINETUNE_USERS, finetune_on_interactions

    out = finetune_on_interactions(tiny_catalog, checkerboard, tiny_model, tmp_path / "enc")
    assert out.model_dir is None and not out.trained and not (tmp_path / "enc").exists()
    assert f"needs {MIN_FINETUNE_USERS:,}" in out.skipped and out.evidence["train_users"] + \
        out.evidence["valid_users"] == 8
    rec, report = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model, max_length=32),
                                tmp_path / "art", progress=False, finetune=True)
    assert "encoder" not in report.built and "training users" in report.skipped["fine-tuning"]
    assert rec.retriever.encoder.model_dir == tiny_model
    stages = {s["name"]: s for s in read_manifest(tmp_path / "art")["config"]["stages"]}
    assert stages["fine-tuning"]["status"] == "skipped" and "needs" in stages["fine-tuning"]["reason"]


def test_validation_pairs_come_from_held_out_users(tmp_path: Path, tiny_catalog, checkerboard, monkeypatch) -> None:
    """No early-stopping pair names a training user's likes: the validation users' events
    never reach the training pairs (the old pair split tested on training pairs)."""
    import retrieval.finetune as ft

    seen = {}
    monkeypatch.setattr(ft, "finetune", lambda base, train, valid, *a, **k: seen.update(train=train, valid=valid))
    monkeypatch.setattr(ft, "MIN_FINETUNE_USERS", 4)
    monkeypatch.setattr(ft, "MIN_FINETUNE_PAIRS", 12)
    monkeypatch.setattr(ft, "MIN_VALID_USERS", 2)
    out = ft.finetune_on_interactions(tiny_catalog, checkerboard, tmp_path, tmp_path / "enc")
    assert out.trained and out.evidence["valid_users"] == 2 and out.evidence["train_users"] == 6
    from retrieval.pairs import split_pair_users

    fit_log, valid_log = split_pair_users(checkerboard, ft.VALID_USER_SHARE, 0, 2)
    assert not set(fit_log.user_ids.tolist()) & set(valid_log.user_ids.tolist())

    def likes(u: str) -> set[str]:
        return {tiny_catalog.items[r].label() for u2, r, w in zip(checkerboard.user_ids, checkerboard.item_rows,
                                                                  checkerboard.weights) if u2 == u and w == 5}

    # every validation query names likes of one held-out user, and no metadata phrase
    held = [likes(u) for u in set(valid_log.user_ids.tolist())]
    assert seen["valid"] and len(set(seen["valid"])) == len(seen["valid"])
    for p in seen["valid"]:
        named = {it.label() for it in tiny_catalog.items if it.label() in p.query}
        assert named and any(named <= h for h in held)
