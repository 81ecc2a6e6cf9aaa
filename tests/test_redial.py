"""ReDial loader, samples, co-occurrence CF and the evaluation pipeline.

Synthetic dialogues in the ReDial format run everywhere; checks on the real files in
../shared/data/redial skip when that folder is absent (as on a fresh clone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusion.cooccur import CoOccurrence
from fusion.evaluate import RedialConfig, cf_scores, evaluate_scores, fit_cooccurrence, fused_scores, prepare
from fusion.fuse import minmax, rowwise_minmax
from retrieval.records import Catalog, Item
from retrieval.redial import (context_text, default_data_dir, load_catalog, load_dialogues,
                              parse_dialogue, recommender_samples, split_title)

SEEKER, REC = 1, 2


def make_catalog() -> Catalog:
    movies = [("10", "Cartoon Kittens", 1995), ("11", "Cartoon Puppies", 1996),
              ("20", "Midnight Heist", 1990), ("21", "Dark Alley", 1991)]
    return Catalog("toy", tuple(Item(i, t, f"{t} ({y}).", y) for i, t, y in movies))


def record(cid: str, turns: list[tuple[int, str]], liked: dict[str, int]) -> dict:
    return {"conversationId": cid, "initiatorWorkerId": SEEKER, "respondentWorkerId": REC,
            "messages": [{"messageId": n, "text": t, "senderWorkerId": s} for n, (s, t) in enumerate(turns)],
            "movieMentions": {}, "respondentQuestions": {},
            "initiatorQuestions": {m: {"suggested": 0, "seen": 1, "liked": v} for m, v in liked.items()}}


DIALOGUE = record("d1", [
    (SEEKER, "hi, I loved @10"),
    (REC, "then try @11 and @10 again, or @99999"),  # 99999 is not in the catalog
    (SEEKER, "seen it. something darker?"),
    (REC, "@20 !"),
    (REC, "no movie here"),
], {"10": 1, "11": 1, "20": 0})


@pytest.fixture
def toy():
    catalog = make_catalog()
    return catalog, [parse_dialogue(DIALOGUE, catalog)]


def test_split_title() -> None:
    assert split_title("Avatar  (2009)") == ("Avatar", 2009)
    assert split_title("Untitled") == ("Untitled", None)


def test_render_and_samples(toy) -> None:
    catalog, dialogues = toy
    d = dialogues[0]
    assert d.turns[0].text == "hi, I loved Cartoon Kittens (1995)"
    assert d.turns[1].movie_ids == ("11", "10")  # order of mention; unknown id left as text
    assert "@99999" in d.turns[1].text
    assert d.seeker_liked_ids == {"10", "11"} and d.seeker_disliked_ids == {"20"}
    samples = recommender_samples(dialogues)
    assert [s.target_ids for s in samples] == [("11", "10"), ("20",)]
    assert samples[0].mentioned_ids == ("10",) and samples[0].liked_ids == ("10",)
    assert samples[1].mentioned_ids == ("10", "11") and len(samples[1].context) == 3
    text = context_text(samples[1].context, n_turns=2)
    assert text.startswith("Seeker: seen it") and "Recommender: then try" in text  # newest first
    assert context_text((), 0) == "Hello"


def test_seeker_turns_are_extra_training_samples() -> None:
    catalog = make_catalog()
    d = parse_dialogue(record("d2", [(SEEKER, "I loved @10"), (REC, "try @11"), (SEEKER, "or @20?"),
                                     (REC, "yes, @21")], {}), catalog)
    assert [s.target_ids for s in recommender_samples([d])] == [("11",), ("21",)]
    # the opening seeker turn has no context and stays out; the later one joins
    both = recommender_samples([d], seeker_turns=True)
    assert [s.target_ids for s in both] == [("11",), ("20",), ("21",)]
    assert both[1].mentioned_ids == ("10", "11") and len(both[1].context) == 2


def test_cooccurrence_known_answer() -> None:
    # Baskets {0,1} twice and {2,3} once: 0~1 and 2~3 only; 0 and 1 co-occur in both of
    # their baskets, so cosine = 2 / sqrt(2 * 2) = 1.
    cf = CoOccurrence.fit([[0, 1], [1, 0, 0], [2, 3]], 4, recommended_rows=[0, 0, 2])
    s = cf.score_all(np.array([0]), np.array([1.0]))
    assert s == pytest.approx([0, 1, 0, 0])
    assert cf.score_all(np.array([2, 0]), np.array([1.0, 0.5])) == pytest.approx([0, 0.5, 0, 1])
    assert cf.score_all(np.zeros(0, np.int64), np.zeros(0)) == pytest.approx([0, 0, 0, 0])
    assert cf.popularity[0] == pytest.approx(1.0) and cf.popularity[1] == 0.0


def test_cooccurrence_save_load(tmp_path: Path) -> None:
    cf = CoOccurrence.fit([[0, 1], [2, 3]], 4, [0])
    cf.save(tmp_path / "cf", {"catalog": "abc"}, {"baskets": "toy"})
    back = CoOccurrence.load(tmp_path / "cf", {"catalog": "abc"})
    assert (back.sim != cf.sim).nnz == 0
    from retrieval.artifacts import StaleArtifactError

    with pytest.raises(StaleArtifactError):
        CoOccurrence.load(tmp_path / "cf", {"catalog": "other"})


def test_rowwise_minmax_matches_fuse_minmax() -> None:
    x = np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]], np.float32)
    for row, out in zip(x, rowwise_minmax(x)):
        assert out == pytest.approx(minmax(row))


def test_evaluation_pipeline_with_fake_encoder(toy, hashing_encoder) -> None:
    catalog, dialogues = toy
    samples = recommender_samples(dialogues)
    vectors = hashing_encoder.encode(catalog.texts())
    prep = prepare(samples, catalog, hashing_encoder, vectors, n_turns=0)
    assert prep.text.shape == (2, 4)
    # entity similarity of sample 0 = cosine of every item to "10", the one movie mentioned before
    assert prep.entity[0] == pytest.approx(vectors @ vectors[0], abs=1e-6)
    res, _ = evaluate_scores(prep, fused_scores(prep, None, np.zeros(4), RedialConfig()))
    assert res["standard"]["n_samples"] == 2 and res["standard"]["n_targets"] == 3
    # new items: "10" was mentioned before the first sample's turn -> dropped; "11", "20" stay.
    assert res["new_items"]["n_targets"] == 2
    # CF alone (alpha 0), trained on dialogues where 10 goes with 11 and 20 with 21.
    train = [parse_dialogue(record("t1", [(SEEKER, "@10"), (REC, "@11")], {}), catalog),
             parse_dialogue(record("t2", [(SEEKER, "@20"), (REC, "@21")], {}), catalog)]
    cf_model = fit_cooccurrence(train, catalog)
    cfg = RedialConfig(alpha=0.0)
    cf = cf_scores(cf_model, samples, catalog, cfg)
    res, metrics = evaluate_scores(prep, fused_scores(prep, cf, cf_model.popularity, cfg))
    assert metrics["new_items"].ranks[0] == 1  # "11" ranked first once "10" is banned


def test_repeat_feature_by_hand(toy) -> None:
    from fusion.evaluate import REPEAT_DECAY, SEEKER_MENTION, repeat_scores

    catalog, dialogues = toy
    rep = repeat_scores(recommender_samples(dialogues), catalog)
    # sample 0 (turn 1): only the seeker's "10", one turn back -> SEEKER_MENTION * decay^0
    assert rep[0].tolist() == pytest.approx([SEEKER_MENTION, 0, 0, 0])
    # sample 1 (turn 3): the recommender named "11" and "10" in turn 1 (decay^1), which
    # beats the seeker's older mention of "10"
    assert rep[1].tolist() == pytest.approx([REPEAT_DECAY, REPEAT_DECAY, 0, 0])


def test_head_and_repeat_terms_enter_the_fusion(toy, hashing_encoder) -> None:
    from retrieval.head import CatalogHead

    catalog, dialogues = toy
    samples = recommender_samples(dialogues)
    vectors = hashing_encoder.encode(catalog.texts())
    head = CatalogHead.identity(len(catalog), vectors.shape[1])
    head.bias[3] = 100.0  # the head is sure of "21"
    prep = prepare(samples, catalog, hashing_encoder, vectors, n_turns=0, head=head)
    assert prep.head.argmax(1).tolist() == [3, 3]
    only_head = fused_scores(prep, None, np.zeros(4), RedialConfig(head_weight=50.0))
    assert only_head.argmax(1).tolist() == [3, 3]
    only_repeat = fused_scores(prep, None, np.zeros(4), RedialConfig(repeat_weight=50.0))
    assert only_repeat[1].argmax() in (0, 1)  # the movies the recommender named
    with pytest.raises(ValueError, match="head"):
        fused_scores(prepare(samples, catalog, hashing_encoder, vectors, 0), None, np.zeros(4),
                     RedialConfig(head_weight=1.0))


# --- the real files ----------------------------------------------------------------------
DATA = default_data_dir()
needs_data = pytest.mark.skipif(not (DATA / "valid.jsonl").exists(),
                                reason=f"ReDial data not found at {DATA} (absent on fresh clones)")


@pytest.mark.slow  # real data (about a second)
@needs_data
def test_real_catalog_and_valid_counts() -> None:
    catalog = load_catalog(DATA)
    assert len(catalog) == 6924
    item = catalog.items[catalog.row("75815")]
    assert item.title == "Angels in the Outfield" and item.year == 1994
    assert "Directed by William Dear" in item.text
    samples = recommender_samples(load_dialogues(DATA / "valid.jsonl", catalog))
    # Counted once by hand with the loader (README: 300 dialogues).
    assert len(samples) == 1070 and sum(len(s.target_ids) for s in samples) == 1210


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    from retrieval.loaders import DataError

    with pytest.raises(DataError, match="--data-dir"):
        load_catalog(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"nope": 1}) + "\n")
    with pytest.raises(DataError, match="bad.jsonl:1"):
        load_dialogues(bad, make_catalog())


def write_data_dir(folder: Path) -> Path:
    """A ReDial-shaped folder: 4 movies, facts for two, one train and one valid dialogue."""
    folder.mkdir()
    (folder / "movies_with_mentions.csv").write_text(
        "movieId,movieName,nbMentions\n10,Cartoon Kittens (1995),3\n11,Cartoon Puppies  (1996),2\n"
        "20,Midnight Heist (1990),1\n21,Dark Alley (1991),1\n")
    (folder / "movie_facts.json").write_text(json.dumps({
        "10": {"name": "Cartoon Kittens (1995)", "facts": {"director": ["Ann Example (director)"]}},
        "20": {"name": "Midnight Heist (1990)", "facts": {"starring": ["Bob Actor"]}}}))
    train = record("t1", [(SEEKER, "@10"), (REC, "@11")], {})
    (folder / "train.jsonl").write_text(json.dumps(train) + "\n")
    (folder / "valid.jsonl").write_text(json.dumps(DIALOGUE) + "\n")
    return folder


def test_evaluate_command_json_interface(tmp_path: Path, monkeypatch, hashing_encoder) -> None:
    """`launch.py evaluate redial` writes both protocols with the five metrics and counts."""
    import fusion.evaluate as ev

    data = write_data_dir(tmp_path / "redial")
    assert load_catalog(data).items[0].text == "Cartoon Kittens (1995). Directed by Ann Example."
    # borrowed genres go after the year, MovieLens names read as words
    kittens = load_catalog(data, {"10": ("Animation", "Children", "(no genres listed)")}).items[0]
    assert kittens.text == "Cartoon Kittens (1995). Genres: Animation, Children's. Directed by Ann Example."
    assert kittens.genres == ("Animation", "Children's")
    monkeypatch.setattr(ev, "load_encoder", lambda artifacts, name: hashing_encoder)
    out = tmp_path / "out" / "result.json"
    assert ev.main(["redial", "--dialogues", str(data / "valid.jsonl"), "--out", str(out),
                    "--data-dir", str(data)]) == 0
    result = json.loads(out.read_text())
    for proto in ("standard", "new_items"):
        assert set(result[proto]) == {"recall@1", "recall@10", "recall@50", "mrr@10", "ndcg@10",
                                      "n_samples", "n_targets"}
    assert result["standard"]["n_targets"] == 3 and result["new_items"]["n_targets"] == 2
    assert result["standard"]["recall@10"] == 1.0  # 4 movies: every target is in the top 10
    assert ev.main(["redial", "--dialogues", str(tmp_path / "nope.jsonl"), "--out", str(out),
                    "--data-dir", str(data)]) == 2


def test_evaluate_command_with_a_system_folder(tmp_path: Path, monkeypatch, hashing_encoder) -> None:
    """`--artifacts DIR` scores the tuned system: the head in DIR joins the fusion, and a
    head trained on other dialogues is refused with the way out."""
    from dataclasses import asdict

    import fusion.evaluate as ev
    from retrieval.artifacts import write_manifest
    from retrieval.head import CatalogHead

    data = write_data_dir(tmp_path / "redial")
    catalog = load_catalog(data)
    monkeypatch.setattr(ev, "load_encoder", lambda artifacts, name: hashing_encoder)
    art = tmp_path / "system"
    chosen = ev.RedialConfig(encoder="base", alpha=0.5, head_weight=10.0, repeat_weight=0.0)
    write_manifest(art, ev.SYSTEM_KIND, {}, {"chosen": asdict(chosen)})
    head = CatalogHead.identity(len(catalog), hashing_encoder.dim)
    head.bias[catalog.row("21")] = 100.0  # a head sure of "Dark Alley", never a target
    head.save(art / "head-base", ev.head_fingerprints(art, "base", catalog, data / "train.jsonl"), {})
    out = tmp_path / "result.json"
    args = ["redial", "--dialogues", str(data / "valid.jsonl"), "--out", str(out), "--data-dir", str(data),
            "--artifacts", str(art)]
    assert ev.main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"text (base)", "fused (base)"}
    assert result["config"]["head_weight"] == 10.0
    # the head's favourite takes first place in every sample, so no target is ranked first
    assert result["variants"]["text (base)"]["standard"]["recall@1"] > 0
    assert result["standard"]["recall@1"] == result["new_items"]["recall@1"] == 0.0
    (data / "train.jsonl").write_text((data / "train.jsonl").read_text() + "\n")  # other dialogues
    assert ev.main(args) == 2


def test_fact_tokens_and_mention_counts(tmp_path: Path) -> None:
    from retrieval.redial import fact_tokens, mention_counts

    data = write_data_dir(tmp_path / "redial")
    catalog = load_catalog(data)
    assert fact_tokens(catalog, data) == [["director=Ann_Example"], [], ["starring=Bob_Actor"], []]
    # every written @id counts, the ones outside the catalog too
    assert mention_counts(data / "valid.jsonl") == {"d1": {"10": 2, "11": 1, "99999": 1, "20": 1}}


def test_mention_prior_leaves_out_the_counted_dialogues(tmp_path: Path) -> None:
    from fusion.redial_pools import mention_prior

    catalog = load_catalog(write_data_dir(tmp_path / "redial"))  # nbMentions 3, 2, 1, 1
    np.testing.assert_allclose(mention_prior(catalog, []), np.log1p([3, 2, 1, 1]) / np.log1p(3), rtol=1e-6)
    # valid's own mentions leave the counts (never below zero); unknown ids are ignored
    np.testing.assert_allclose(mention_prior(catalog, [{"10": 2, "20": 5, "99999": 1}]),
                               np.log1p([1, 2, 0, 1]) / np.log1p(2), rtol=1e-6)


def test_second_stage_trains_on_train_and_reranks_valid(tmp_path: Path, monkeypatch, hashing_encoder,
                                                        capsys) -> None:
    """benchmarks/redial_rerank.py pools train.jsonl out of fold and trains the reranker;
    `evaluate redial --artifacts` with `rerank` then reports the reranked row, and a
    reranker made for another first stage is refused."""
    from dataclasses import asdict, replace

    import fusion.evaluate as ev
    from benchmarks.redial_rerank import FOLDS, fold_of, train_second_stage
    from retrieval.artifacts import write_manifest
    from retrieval.head import CatalogHead

    data = write_data_dir(tmp_path / "redial")
    train = [record(f"t{i}", [(SEEKER, "I like @10"), (REC, "try @11"), (SEEKER, "and @20?"), (REC, "@21 then")], {})
             for i in range(12)]
    (data / "train.jsonl").write_text("".join(json.dumps(d) + "\n" for d in train))
    assert len({fold_of(f"t{i}") for i in range(12)}) > 1 and all(0 <= fold_of(f"t{i}") < FOLDS for i in range(12))
    catalog = load_catalog(data)
    monkeypatch.setattr(ev, "load_encoder", lambda artifacts, name: hashing_encoder)
    art = tmp_path / "system"
    first = ev.RedialConfig(encoder="base", alpha=0.5, head_weight=1.0)
    head = CatalogHead.identity(len(catalog), hashing_encoder.dim)
    head.save(art / "head-base", ev.head_fingerprints(art, "base", catalog, data / "train.jsonl"),
              {"refit": {"head": {"epochs": 1}}})
    manifest = train_second_stage(data, art, first)
    assert manifest["config"]["n_pools"] > 0 and (art / "neighbours-base" / "manifest.json").exists()
    write_manifest(art, ev.SYSTEM_KIND, {}, {"chosen": asdict(replace(first, rerank=True))})
    out = tmp_path / "result.json"
    args = ["redial", "--dialogues", str(data / "valid.jsonl"), "--out", str(out), "--data-dir", str(data),
            "--artifacts", str(art)]
    assert ev.main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"text (base)", "fused (base)", "reranked (base)"}
    assert result["standard"] == result["variants"]["reranked (base)"]["standard"]
    assert result["standard"]["recall@10"] == 1.0  # 4 movies: every target is in the top 10
    write_manifest(art, ev.SYSTEM_KIND, {}, {"chosen": asdict(replace(first, alpha=0.6, rerank=True))})
    assert ev.main(args) == 2  # trained for another first stage
    capsys.readouterr()
    train_second_stage(data, art, first)
    assert "reusing reranker" in capsys.readouterr().out


def test_part_encoder_reruns_the_recipe_without_the_part(tmp_path: Path, monkeypatch, tiny_model, capsys) -> None:
    """A fine-tuned first stage's text is refitted per part: the chosen encoder's recipe
    on the dialogues outside the part only, saved under DIR/parts/ and then reused."""
    from dataclasses import asdict

    import retrieval.encoder
    from benchmarks.redial_rerank import fold_of, part_encoder
    from retrieval.artifacts import write_manifest
    from retrieval.finetune import KIND, FinetuneConfig

    monkeypatch.setattr(retrieval.encoder, "base_model_dir", lambda: tiny_model)
    catalog = make_catalog()
    dialogues = [parse_dialogue(record(f"t{i}", [(SEEKER, "I like @10"), (REC, "try @11"), (SEEKER, "and @20?"),
                                                 (REC, "@21 then")], {}), catalog) for i in range(12)]
    art = tmp_path / "system"
    recipe = FinetuneConfig(max_steps=1, batch_size=4, eval_every=1, patience=1, val_pool=4, mixed_precision="no")
    write_manifest(art / "encoder-x", KIND, {}, {"finetune": asdict(recipe)})
    f = fold_of("t0")
    outside = sum(fold_of(d.dialogue_id) != f for d in dialogues)
    encoder, vectors = part_encoder(art, "encoder-x", f, dialogues, catalog)
    manifest = json.loads((art / "parts" / f"encoder-x-{f}" / "manifest.json").read_text())
    assert manifest["config"]["finetune"] == asdict(recipe)
    # two recommender turns per dialogue; the last 10% of the outside dialogues stop early
    assert manifest["config"]["n_train_pairs"] == 2 * (outside - outside // 10) < 2 * len(dialogues)
    assert vectors.shape == (len(catalog), 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    capsys.readouterr()
    _, again = part_encoder(art, "encoder-x", f, dialogues, catalog)
    assert "reusing fine-tuned encoder" in capsys.readouterr().out
    np.testing.assert_array_equal(again, vectors)
