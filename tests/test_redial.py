"""ReDial reader, samples, conversation CF, the pipeline that learnt from conversations,
its evaluation command, its second stage, and that the chat ranks as the benchmark does.

Synthetic dialogues in the ReDial format run everywhere; checks on the real files in
../shared/data/redial skip when that folder is absent (as on a fresh clone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusion.config import PipelineConfig
from fusion.cooccur import CoOccurrence, CoOccurrenceCF
from fusion.terms import REPEAT_DECAY, SEEKER_MENTION
from retrieval.dialogue import context_text, recommender_samples
from retrieval.records import Catalog, Item
from retrieval.redial import default_data_dir, load_catalog, load_dialogues, parse_dialogue, split_title

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
    assert d.turns[1].item_ids == ("11", "10")  # order of mention; unknown id left as text
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
    assert cf.counts.tolist() == [2, 0, 1, 0]
    # evidence: the history row that earned each score (2 for row 3, 0 for row 1, none else)
    assert cf.evidence(np.array([2, 0]), np.array([1.0, 0.5]), np.arange(4)).tolist() == [-1, 0, -1, 2]
    # as the pipeline's CF: an empty history scores zero, never popularity
    adapter = CoOccurrenceCF(cf)
    empty = adapter.score(adapter.user_history("anyone"), np.arange(4))
    assert empty.scores.tolist() == [0, 0, 0, 0] and empty.source == "conversations"
    assert not adapter.knows_user("u1")


def test_cooccurrence_save_load(tmp_path: Path) -> None:
    cf = CoOccurrence.fit([[0, 1], [2, 3]], 4, [0])
    cf.save(tmp_path / "cf", {"catalog": "abc"}, {"baskets": "toy"})
    back = CoOccurrence.load(tmp_path / "cf", {"catalog": "abc"})
    assert (back.sim != cf.sim).nnz == 0 and back.counts.tolist() == cf.counts.tolist()
    from retrieval.artifacts import StaleArtifactError

    with pytest.raises(StaleArtifactError):
        CoOccurrence.load(tmp_path / "cf", {"catalog": "other"})


def toy_pipeline(catalog, encoder, config: PipelineConfig, head=None):
    """A context-mode pipeline over the toy catalog with hand-made components."""
    from fusion.recommender import Recommender
    from fusion.terms import EntityTerm, HeadTerm, PriorTerm, RepeatTerm
    from retrieval.head import CatalogHead
    from retrieval.retriever import Retriever

    retriever = Retriever.build(catalog, encoder)
    train = [parse_dialogue(record("t1", [(SEEKER, "@10"), (REC, "@11")], {}), catalog),
             parse_dialogue(record("t2", [(SEEKER, "@20"), (REC, "@21")], {}), catalog)]
    from fusion.conversations import fit_cooccurrence

    cf = fit_cooccurrence(train, catalog)
    head = head or CatalogHead.identity(len(catalog), retriever.item_vectors.shape[1])
    terms = [PriorTerm("popularity", cf.popularity, cf.counts), HeadTerm(head, retriever.item_vectors),
             RepeatTerm(), EntityTerm(retriever.item_vectors)]
    return Recommender(retriever, CoOccurrenceCF(cf), config, terms)


CONTEXT = PipelineConfig(query="context", n_candidates=None, like_weight=1.0, mention_weight=1.0)


def test_context_requests_by_hand(toy, hashing_encoder) -> None:
    """A sample read as the chat reads a conversation: the context embedded as training
    rendered it, every mention in the CF history, repeat values by recency and speaker."""
    from benchmarks.redial.protocol import sample_query

    catalog, dialogues = toy
    rec = toy_pipeline(catalog, hashing_encoder, CONTEXT)
    s0, s1 = recommender_samples(dialogues)
    r0 = rec.request(sample_query(s0, new_items=False))
    np.testing.assert_allclose(r0.query_vector, hashing_encoder.encode([context_text(s0.context)])[0], atol=1e-6)
    assert r0.history.item_rows.tolist() == [0] and r0.history.weights.tolist() == [1.0]
    # sample 0 (turn 1): only the seeker's "10", one turn back -> SEEKER_MENTION * decay^0
    assert r0.mentioned_rows.tolist() == [0] and r0.repeat.tolist() == pytest.approx([SEEKER_MENTION])
    # sample 1 (turn 3): the recommender named "11" and "10" in turn 1 (decay^1), which
    # beats the seeker's older mention of "10"
    r1 = rec.request(sample_query(s1, new_items=True))
    assert r1.mentioned_rows.tolist() == [0, 1] and r1.repeat.tolist() == pytest.approx([REPEAT_DECAY] * 2)
    assert r1.excluded == frozenset({0, 1})  # new items: the mentioned movies leave the pool
    pool = rec.pool(r1)
    assert pool.rows.tolist() == [2, 3]
    vectors = rec.retriever.item_vectors
    np.testing.assert_allclose(pool.terms["entity"], vectors[[2, 3]] @ vectors[[0, 1]].mean(0), atol=1e-6)


def test_terms_enter_the_fusion_with_their_weights(toy, hashing_encoder) -> None:
    from benchmarks.redial.protocol import sample_query
    from retrieval.head import CatalogHead

    catalog, dialogues = toy
    head = CatalogHead.identity(len(catalog), hashing_encoder.dim)
    head.bias[3] = 100.0  # the head is sure of "21"
    samples = recommender_samples(dialogues)
    only_head = toy_pipeline(catalog, hashing_encoder, CONTEXT.with_(alpha=0.0, weights={"head": 50.0}), head)
    for s in samples:
        pool = only_head.pool(only_head.request(sample_query(s, new_items=False)))
        assert pool.rows[only_head.scores(pool)[2].argmax()] == 3
    only_repeat = only_head.with_config(CONTEXT.with_(alpha=0.0, weights={"repeat": 50.0}))
    pool = only_repeat.pool(only_repeat.request(sample_query(samples[1], new_items=False)))
    assert pool.rows[only_repeat.scores(pool)[2].argmax()] in (0, 1)  # the movies the recommender named
    # CF alone: trained where 10 goes with 11 and 20 with 21; after "10" the answer is "11"
    cf_only = only_head.with_config(CONTEXT.with_(alpha=0.0))
    pool = cf_only.pool(cf_only.request(sample_query(samples[0], new_items=True)))
    assert pool.rows[cf_only.scores(pool)[2].argmax()] == 1
    with pytest.raises(ValueError, match="ratings"):
        only_head.with_config(CONTEXT.with_(weights={"ratings": 1.0}))


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


def write_data_dir(folder: Path, n_train: int = 1) -> Path:
    """A ReDial-shaped folder: 4 movies, facts for two, `n_train` train dialogues and one valid dialogue."""
    folder.mkdir()
    (folder / "movies_with_mentions.csv").write_text(
        "movieId,movieName,nbMentions\n10,Cartoon Kittens (1995),3\n11,Cartoon Puppies  (1996),2\n"
        "20,Midnight Heist (1990),1\n21,Dark Alley (1991),1\n")
    (folder / "movie_facts.json").write_text(json.dumps({
        "10": {"name": "Cartoon Kittens (1995)", "facts": {"director": ["Ann Example (director)"]}},
        "20": {"name": "Midnight Heist (1990)", "facts": {"starring": ["Bob Actor"]}}}))
    train = [record(f"t{i}", [(SEEKER, "I like @10"), (REC, "try @11"), (SEEKER, "and @20?"), (REC, "@21 then")], {})
             for i in range(n_train)]
    (folder / "train.jsonl").write_text("".join(json.dumps(d) + "\n" for d in train))
    (folder / "valid.jsonl").write_text(json.dumps(DIALOGUE) + "\n")
    return folder


@pytest.fixture
def fake_encoders(monkeypatch, hashing_encoder):
    """Every TransformerEncoder the code makes is the hashing encoder (no weights)."""
    import retrieval.encoder

    monkeypatch.setattr(retrieval.encoder, "TransformerEncoder", lambda *a, **k: hashing_encoder)
    return hashing_encoder


def test_evaluate_command_json_interface(tmp_path: Path, fake_encoders) -> None:
    """`launch.py evaluate redial` writes both protocols with the five metrics and counts."""
    from benchmarks.redial.evaluate import main

    data = write_data_dir(tmp_path / "redial")
    assert load_catalog(data).items[0].text == "Cartoon Kittens (1995). Directed by Ann Example."
    # borrowed genres go after the year, MovieLens names read as words
    kittens = load_catalog(data, {"10": ("Animation", "Children", "(no genres listed)")}).items[0]
    assert kittens.text == "Cartoon Kittens (1995). Genres: Animation, Children's. Directed by Ann Example."
    assert kittens.genres == ("Animation", "Children's")
    out = tmp_path / "out" / "result.json"
    assert main(["redial", "--dialogues", str(data / "valid.jsonl"), "--out", str(out), "--data-dir", str(data)]) == 0
    result = json.loads(out.read_text())
    for proto in ("standard", "new_items"):
        assert set(result[proto]) == {"recall@1", "recall@10", "recall@50", "mrr@10", "ndcg@10",
                                      "n_samples", "n_targets"}
    assert result["standard"]["n_targets"] == 3 and result["new_items"]["n_targets"] == 2
    assert result["standard"]["recall@10"] == 1.0  # 4 movies: every target is in the top 10
    assert main(["redial", "--dialogues", str(tmp_path / "nope.jsonl"), "--out", str(out),
                 "--data-dir", str(data)]) == 2


def toy_system(tmp_path: Path, config: PipelineConfig, rerank: bool = False, n_train: int = 12):
    """A ReDial-shaped data folder and a system folder fitted on its train dialogues with
    the fake encoder: (data dir, catalog, system dir)."""
    from benchmarks.redial.second_stage import train_second_stage
    from fusion.conversations import fit_components, save_system
    from retrieval.encoder import TransformerEncoder

    data = write_data_dir(tmp_path / "redial", n_train)
    catalog = load_catalog(data)
    train = load_dialogues(data / "train.jsonl", catalog)
    art = tmp_path / "system"
    fit_components(train, catalog, TransformerEncoder(), art / "systems" / "base", head_epochs=1, progress=False)
    if rerank:
        train_second_stage(art, "base", config, train, catalog, data)
    save_system(art, config.with_(rerank=rerank), catalog, "systems/base", "base")
    return data, catalog, art


def test_refit_serves_the_chosen_system_refitted_on_all_of_train(tmp_path: Path, fake_encoders, monkeypatch) -> None:
    """Step 6 of the ReDial build: with every choice made on dev, the chosen encoder's recipe
    reruns on all of train.jsonl (in file order) and every component is refitted on it; the
    manifest then serves that system with the dev-chosen config and second stage."""
    import importlib

    import retrieval.finetune
    from fusion.conversations import dialogues_fingerprint, load_system, read_fingerprints
    from retrieval.dialogue import split_dialogues

    bench = importlib.import_module("benchmarks.redial.__main__")
    config = CONTEXT.with_(alpha=0.5, weights={"head": 1.0})
    data, catalog, art = toy_system(tmp_path, config, rerank=True)
    everything = load_dialogues(data / "train.jsonl", catalog)
    fit, dev = split_dialogues(everything)
    assert fit and dev  # the refit adds dialogues no fit component saw
    tuned = {"chosen": "base", "config": config.with_(rerank=True), "validation": {"dev_objective": {}}}
    built = {"catalog": catalog, "train": everything, "fit": fit, "dev": dev, "ratings": None}
    out = bench.refit(data, art, built, tuned)
    manifest = json.loads((art / "manifest.json").read_text())["config"]
    assert (manifest["components"], manifest["encoder"]) == ("systems/base-all", "base")
    assert manifest["validation"]["refit"] == out["validation"]["refit"] == {
        "n_dialogues": len(everything), "encoder": "base", "components": "systems/base-all"}
    fps = read_fingerprints(art / "systems" / "base-all" / "cf")
    assert fps["dialogues"] == dialogues_fingerprint(everything) != dialogues_fingerprint(fit)
    served = load_system(art, catalog)
    assert served.config == config.with_(rerank=True) and served.second_stage.reranker is not None

    calls = []  # a fine-tuned choice: its recipe reruns on every train dialogue, in file order
    monkeypatch.setattr(retrieval.finetune, "finetune_on_dialogues",
                        lambda dialogues, catalog, base, out_dir, recipe, retrain=False:
                        calls.append(([d.dialogue_id for d in dialogues], out_dir.name, recipe)))
    out = bench.refit(data, art, built, {**tuned, "chosen": bench.ENCODER})
    assert calls == [([d.dialogue_id for d in everything], bench.ENCODER + "-all", bench.recipe())]
    manifest = json.loads((art / "manifest.json").read_text())["config"]
    assert (manifest["components"], manifest["encoder"]) == (f"systems/{bench.ENCODER}-all", f"{bench.ENCODER}-all")


def test_evaluate_command_with_a_system_folder(tmp_path: Path, fake_encoders) -> None:
    """`--artifacts DIR` scores the system as the chat serves it; a system built for
    another catalog is refused with the way out."""
    from benchmarks.redial.evaluate import main

    data, catalog, art = toy_system(tmp_path, CONTEXT.with_(alpha=0.5, weights={"popularity": 10.0}))
    out = tmp_path / "result.json"
    args = ["redial", "--dialogues", str(data / "valid.jsonl"), "--out", str(out), "--data-dir", str(data),
            "--artifacts", str(art)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"text only", "first stage"}
    assert result["config"]["weights"] == {"popularity": 10.0}
    # trained recommenders named only 11 and 21: the prior puts them first, so the
    # valid targets 11 and 20 (new items) get R@1 only for 11 in the first sample
    assert result["new_items"]["recall@1"] == 0.5
    csv = data / "movies_with_mentions.csv"
    csv.write_text(csv.read_text().replace("Dark Alley", "Dark Alleys"))  # another catalog
    assert main(args) == 2


def test_second_stage_trains_out_of_fold_and_serves(tmp_path: Path, fake_encoders, capsys) -> None:
    """The reranker learns from out-of-fold pools that the pipeline itself builds, is
    reused while its first stage stays, and is refused for another first stage."""
    from benchmarks.redial.evaluate import main
    from benchmarks.redial.second_stage import FOLDS, fold_of, train_second_stage
    from fusion.conversations import load_system, save_system
    from retrieval.artifacts import StaleArtifactError

    assert len({fold_of(f"t{i}") for i in range(12)}) > 1 and all(0 <= fold_of(f"t{i}") < FOLDS for i in range(12))
    first = CONTEXT.with_(alpha=0.5, weights={"head": 1.0})
    data, catalog, art = toy_system(tmp_path, first, rerank=True)
    manifest = json.loads((art / "reranker" / "manifest.json").read_text())["config"]
    assert manifest["n_pools"] > 0 and manifest["features"][0] == "first_rank"
    out = tmp_path / "result.json"
    args = ["redial", "--dialogues", str(data / "valid.jsonl"), "--out", str(out), "--data-dir", str(data),
            "--artifacts", str(art)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"text only", "first stage", "second stage (served)"}
    assert result["standard"] == result["variants"]["second stage (served)"]["standard"]
    assert result["standard"]["recall@10"] == 1.0  # 4 movies: every target is in the top 10
    capsys.readouterr()
    train_second_stage(art, "base", first, load_dialogues(data / "train.jsonl", catalog), catalog, data)
    assert "reusing reranker" in capsys.readouterr().out
    save_system(art, first.with_(alpha=0.6, rerank=True), catalog, "systems/base", "base")
    with pytest.raises(StaleArtifactError, match="first_stage"):
        load_system(art, catalog)  # trained for another first stage


def test_the_chat_ranks_a_conversation_as_the_benchmark_does(tmp_path: Path, fake_encoders) -> None:
    """Parity: the same conversation, once as a benchmark sample (new-items protocol) and
    once typed into the bot, gets the same ranking from the served pipeline (second
    stage included), and the reasons cite what ranked the items."""
    from benchmarks.redial.protocol import build_pools
    from bot.conversation.chat import Bot, BotConfig
    from fusion.conversations import load_system
    from retrieval.dialogue import Utterance
    from retrieval.redial import fact_tokens

    config = CONTEXT.with_(alpha=0.6, entity_weight=0.3, weights={"head": 1.0, "popularity": 0.2, "repeat": 1.0})
    data, catalog, art = toy_system(tmp_path, config, rerank=True)
    rec = load_system(art, catalog, fact_tokens(catalog, data))
    assert rec.config.rerank
    valid = load_dialogues(data / "valid.jsonl", catalog)
    sample = recommender_samples(valid)[1]  # seeker, recommender, seeker turns before it
    pool = build_pools(rec, [sample], progress=False).pools["new_items"][0]
    scores = rec.scores(pool)[2]
    benchmark = [catalog.items[r].item_id for r in pool.rows[np.argsort(-scores, kind="stable")]]

    bot = Bot(rec, BotConfig(k=2))
    session = bot.new_session("s")
    for turn in sample.context:
        if turn.seeker:
            session = bot.listen(turn.text, session)
        else:  # the human recommender's turn, heard as the bot's own reply would be
            session = session.with_shown(turn.item_ids, Utterance(False, turn.text, turn.item_ids))
    assert session.liked_ids == ("10",)  # "I loved Cartoon Kittens (1995)" was linked
    assert [t.item_ids for t in session.transcript] == [t.item_ids for t in sample.context]
    chat_pool = rec.candidates(bot.query(session))
    assert chat_pool.rows.tolist() == pool.rows.tolist()
    np.testing.assert_allclose(rec.scores(chat_pool)[2], scores, rtol=1e-6)  # every score, not just the order
    reply = bot.recommend(session)
    assert [it.recommendation.item.item_id for it in reply.items] == benchmark[:2]
    assert all(it.recommendation.reranked for it in reply.items)
    assert reply.session.transcript[-1].item_ids == tuple(benchmark[:2])  # the bot's turn joins the context


def test_fact_tokens(tmp_path: Path) -> None:
    from retrieval.redial import fact_tokens

    data = write_data_dir(tmp_path / "redial")
    catalog = load_catalog(data)
    assert fact_tokens(catalog, data) == [["director=Ann_Example"], [], ["starring=Bob_Actor"], []]


def test_mention_prior_counts_every_turn_that_names_an_item() -> None:
    from fusion.conversations import mention_prior

    catalog = make_catalog()
    d = parse_dialogue(DIALOGUE, catalog)  # 10 in turns 0 and 1, 11 in turn 1, 20 in turn 3
    prior, counts = mention_prior([d], catalog)
    assert counts.tolist() == [2, 1, 1, 0]
    np.testing.assert_allclose(prior, np.log1p([2, 1, 1, 0]) / np.log1p(2), rtol=1e-6)


def test_part_encoder_reruns_the_recipe_without_the_part(tmp_path: Path, monkeypatch, tiny_model, capsys) -> None:
    """A fine-tuned first stage's text is refitted per part: the chosen encoder's recipe
    on the dialogues outside the part only, saved under DIR/parts/ and then reused."""
    from dataclasses import asdict

    import retrieval.encoder
    from benchmarks.redial.second_stage import fold_of, part_encoder
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
    encoder = part_encoder(art, "encoder-x", f, dialogues, catalog)
    manifest = json.loads((art / "parts" / f"encoder-x-{f}" / "manifest.json").read_text())
    assert manifest["config"]["finetune"] == asdict(recipe)
    # two recommender turns per dialogue; the last 10% of the outside dialogues stop early
    assert manifest["config"]["n_train_pairs"] == 2 * (outside - outside // 10) < 2 * len(dialogues)
    vectors = encoder.encode(catalog.texts())
    assert vectors.shape == (len(catalog), 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    capsys.readouterr()
    part_encoder(art, "encoder-x", f, dialogues, catalog)
    assert "reusing fine-tuned encoder" in capsys.readouterr().out
