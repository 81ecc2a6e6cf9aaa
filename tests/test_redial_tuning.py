"""benchmarks/redial.py: the coordinate-ascent search and its configs."""

from __future__ import annotations

import benchmarks.redial as bench
from fusion.evaluate import RedialConfig


def test_coordinate_search_finds_a_separable_optimum(monkeypatch):
    grid = {"a": (0, 1, 2, 3), "b": (0.0, 0.5, 1.0), "c": ("x", "y")}
    monkeypatch.setattr(bench, "GRID", grid)
    target = {"a": 2, "b": 0.5, "c": "y"}
    calls = []

    def score(point):
        calls.append(point)
        return -abs(point["a"] - 2) - abs(point["b"] - 0.5) + (point["c"] == "y")

    point, value = bench.coordinate_search({"a": 0, "b": 0.0, "c": "x"}, score)
    assert point == target and value == 1.0
    # one round to move, one to confirm nothing moves: at most 2 * (3 + 2 + 1) + 1 calls
    assert len(calls) <= 13


def test_as_config_unpacks_the_cf_weights():
    point = {"alpha": 0.4, "pop_weight": 0.3, "cf_weights": (1.0, 0.5), "entity_weight": 0.3,
             "head_weight": 1.0, "repeat_weight": 3.0, "ratings_weight": 0.2}
    cfg = bench.as_config(RedialConfig(encoder="encoder-top2", n_turns=3), point)
    assert cfg == RedialConfig(encoder="encoder-top2", n_turns=3, alpha=0.4, pop_weight=0.3, like_weight=1.0,
                               mention_weight=0.5, entity_weight=0.3, head_weight=1.0, repeat_weight=3.0,
                               ratings_weight=0.2)


def test_fine_tuned_encoder_is_reused_only_for_the_same_item_texts(tmp_path, monkeypatch):
    """train_encoder reuses a model folder trained on the same pairs AND the same catalog
    texts; new item texts (e.g. borrowed genres) retrain it."""
    import json

    import retrieval.finetune as ft
    from retrieval.artifacts import write_manifest
    from tests.test_redial import SEEKER, REC, record, write_data_dir

    data = write_data_dir(tmp_path / "redial")
    dialogues = [record(f"t{i}", [(SEEKER, "hi, I loved @10"), (REC, "try @11")], {}) for i in range(10)]
    (data / "train.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    monkeypatch.setattr(bench, "ITEM_GENRES", False)  # no MovieLens needed
    trained = []

    def fake_finetune(model_dir, train, valid, item_texts, out_dir, config, extra_manifest=None):
        trained.append(dict(item_texts))
        (out_dir / "config.json").parent.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text("{}")
        write_manifest(out_dir, ft.KIND, {"train_pairs": ft.fingerprint(train), "valid_pairs": ft.fingerprint(valid)},
                       {"finetune": {"trainable": config.trainable, "max_steps": config.max_steps},
                        **(extra_manifest or {})})

    monkeypatch.setattr(ft, "finetune", fake_finetune)
    out = tmp_path / "encoder-top2"
    bench.train_encoder(data, out, 5, "top:2")
    bench.train_encoder(data, out, 5, "top:2")
    assert len(trained) == 1  # same pairs, same texts: reused
    facts = json.loads((data / "movie_facts.json").read_text())
    facts["10"]["facts"]["director"] = ["Someone Else"]
    (data / "movie_facts.json").write_text(json.dumps(facts))
    bench.train_encoder(data, out, 5, "top:2")
    assert len(trained) == 2 and "Someone Else" in trained[1]["10"]


def test_head_is_reused_only_for_the_same_recipe(tmp_path, monkeypatch, hashing_encoder, capsys):
    """train_head trains (early stopping, then a refit on all dialogues), reuses the head
    for the same data and recipe, and retrains it when the recipe changes."""
    import json
    from dataclasses import dataclass

    import fusion.evaluate as ev
    import retrieval.head as head_mod
    from tests.test_redial import SEEKER, REC, record, write_data_dir

    data = write_data_dir(tmp_path / "redial")
    dialogues = [record(f"t{i}", [(SEEKER, "hi, I loved @10"), (REC, "try @11"), (SEEKER, "or @21?"), (REC, "or @20")], {})
                 for i in range(10)]
    (data / "train.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    monkeypatch.setattr(bench, "ITEM_GENRES", False)  # no MovieLens needed
    monkeypatch.setattr(ev, "load_encoder", lambda artifacts, name: hashing_encoder)
    artifacts = tmp_path / "artifacts"

    manifest = bench.train_head(data, artifacts, "base")
    refit = manifest["config"]["refit"]
    assert refit["head"]["epochs"] == max(manifest["config"]["best_epoch"], 1)
    # seeker and recommender mentions of all 10 dialogues, versus 9 for the early stopping
    assert refit["n_train_targets"] == 30 and manifest["config"]["n_train_targets"] == 27
    bench.train_head(data, artifacts, "base")
    assert "reusing head" in capsys.readouterr().out

    @dataclass(frozen=True)
    class OtherRecipe(head_mod.HeadConfig):
        l2: float = 1e-2

    monkeypatch.setattr(head_mod, "HeadConfig", OtherRecipe)
    bench.train_head(data, artifacts, "base")
    assert "retraining head: " in (out := capsys.readouterr().out) and "built with another head;" in out
