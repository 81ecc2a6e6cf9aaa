"""A build that learns from conversations (issue: the default bot learns from dialogues):
linking ReDial-style dialogues onto a catalog, the fit/dev split, the build stage, and the
dev-replay tuner, with known answers on a small synthetic catalog."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.conversation.chat import Bot
from bot.offline.replay import replay, score, tune_on_dialogues
from fusion.build import Conversations, load_or_build
from retrieval.dialogue import Dialogue, Utterance, relink, split_dialogues
from retrieval.encoder import HashingEncoder
from retrieval.facets import MOVIE
from retrieval.loaders import DataError, item_text
from retrieval.records import Catalog, Item
from retrieval.redial import load_linked_dialogues
from tests.conftest import TINY, make_checkerboard

# The tiny catalog (12 movies, checkerboard ratings on them) and 40 unrated fillers.
FILLERS = [(f"f{i}", f"Filler Story {i}", 2000 + i % 20, ("Drama",)) for i in range(40)]


def catalog() -> Catalog:
    return Catalog("small", tuple(Item(i, t, item_text(t, y, g), y, g) for i, t, y, g in TINY + FILLERS), kind=MOVIE)


# ReDial ids: 111 = Mafia Night (1993), 222 = Cartoon Kittens (1995), 333 has no counterpart.
MOVIES = "movieId,movieName,nbMentions\n111,Mafia Night (1993),40\n222,Cartoon Kittens (1995),3\n" \
         "333,Nowhere Film (2001),2\n"


def redial_line(n: int) -> dict:
    """Seekers ask for cartoons; the recommender always names Mafia Night (and once in a while
    a movie the bot's catalog lacks): a taste that only the conversations know."""
    messages = [{"senderWorkerId": 1, "text": "hi! I want a cartoon for my kids tonight"},
                {"senderWorkerId": 2, "text": "You could try @111" + (" or @333" if n % 5 == 0 else "")},
                {"senderWorkerId": 1, "text": "thanks, and I liked @222 already"}]
    return {"conversationId": str(1000 + n), "initiatorWorkerId": 1, "messages": messages,
            "initiatorQuestions": {"111": {"liked": 1}}}


@pytest.fixture
def dialogue_file(tmp_path):
    (tmp_path / "movies_with_mentions.csv").write_text(MOVIES)
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(redial_line(n)) for n in range(60)) + "\n")
    return path


def test_relink_moves_ids_and_drops_the_unlinked():
    d = Dialogue("d", (Utterance(True, "hi @x", ("a", "x")), Utterance(False, "b?", ("b",))), frozenset({"a", "x"}), frozenset({"b"}))
    (out,) = relink([d], {"a": "A", "b": "B"})
    assert [t.item_ids for t in out.turns] == [("A",), ("B",)] and out.turns[0].text == "hi @x"
    assert out.seeker_liked_ids == {"A"} and out.seeker_disliked_ids == {"B"}


def test_split_is_seeded_by_id_and_disjoint():
    ds = [Dialogue(str(i), ()) for i in range(200)]
    fit, dev = split_dialogues(ds)
    assert len(fit) + len(dev) == 200 and not {d.dialogue_id for d in fit} & {d.dialogue_id for d in dev}
    assert 15 <= len(dev) <= 45 and split_dialogues(list(reversed(ds)))[1] == list(reversed(dev))


def test_linked_dialogues_carry_the_catalogs_ids_and_counts(dialogue_file):
    linked = load_linked_dialogues(dialogue_file, catalog())
    assert linked.movies_linked == 2 and len(linked.dialogues) == 60
    first = linked.dialogues[0]
    assert first.turns[1].item_ids == ("m9",) and "Mafia Night (1993)" in first.turns[1].text
    assert first.turns[2].item_ids == ("m0",) and first.seeker_liked_ids == {"m9"}
    assert linked.mentions == 60 * 2 + 12 and linked.mentions_linked == 120  # the 12 mentions of 333 are dropped
    with pytest.raises(DataError, match="no dialogue file"):
        load_linked_dialogues(dialogue_file.parent / "missing.jsonl", catalog())


def conversations(dialogue_file) -> Conversations:
    fit, dev = split_dialogues(load_linked_dialogues(dialogue_file, catalog()).dialogues)
    return Conversations(fit, dev, "test dialogues", tune_on_dialogues)


def test_without_dialogues_the_build_says_it_learns_from_ratings_alone(tmp_path, capsys):
    cat = catalog()
    rec, report = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a")
    assert "no dialogues" in report.skipped["conversations"]
    # only what reads the request and the ratings: nothing learnt from conversations
    assert set(rec.terms) <= {"repeat", "entity", "latest", "genres", "topics", "alike", "popular"}
    assert "[5/5] conversations: skipped, no dialogues" in capsys.readouterr().out


def test_the_build_learns_what_only_conversations_know_and_reuses_it(tmp_path, dialogue_file):
    cat = catalog()
    convs = conversations(dialogue_file)
    assert convs.dev and convs.fit
    rec, report = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                                progress=False, conversations=convs)
    assert any(b.startswith("conversations") for b in report.built) and "conversation tuning" in report.built
    assert {"popularity", "dialogues", "head", "neighbours"} <= set(rec.terms)
    # ratings and words alone do not put Mafia Night in a cartoon request's top 10; the tuned pipeline does
    identity = {it.item_id: it.item_id for it in cat.items}
    plain = Bot(rec.with_config(rec.config.with_(weights={}, query="turns", n_candidates=200)))
    before = score(plain, replay(plain, convs.dev, identity), {"shipped": None})["shipped"].result()
    learnt = Bot(rec)
    after = score(learnt, replay(learnt, convs.dev, identity), {"shipped": None})["shipped"].result()
    assert before["recall@10"] == 0.0 and after["recall@10"] == 1.0 and after["n_targets"] == len(convs.dev)
    assert any(w > 0 for w in rec.config.weights.values())
    # the second build reuses parts and tuning: nothing built, same config
    again, report2 = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                                   progress=False, conversations=convs)
    assert report2.built == () and again.config == rec.config
    # another search (grid, structures) retunes on the reused parts
    _, report3 = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                               progress=False, conversations=replace(convs, tune_fingerprint="another grid"))
    assert report3.built == ("conversation tuning",)


class _Int8Hashing(HashingEncoder):
    """Stands for an int8 copy of the item encoder: the same vectors, another identity."""

    def describe(self) -> dict:
        return {**super().describe(), "precision": "int8"}


def test_weights_tuned_for_float32_queries_are_tuned_again_for_int8(tmp_path, dialogue_file, monkeypatch):
    import fusion.build

    cat, convs = catalog(), conversations(dialogue_file)
    _, first = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a", progress=False,
                             conversations=convs)
    assert "conversation tuning" in first.built
    monkeypatch.setattr(fusion.build, "with_int8_queries", lambda r: r.with_query_encoder(_Int8Hashing(dim=256)))
    rec, second = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                                progress=False, conversations=convs, int8_queries=True)
    assert second.built == ("conversation tuning",)  # parts reused, weights chosen again
    assert rec.retriever.query_encoder.describe()["precision"] == "int8"
    _, third = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                             progress=False, conversations=convs, int8_queries=True)
    assert third.built == ()


def _unweighted_search():
    """The dialogue search started with every term weight at 0, over the text top-200 (in
    this small catalog every item as a candidate ranks each dev target first already)."""
    from bot.offline.replay import DIALOGUE_SEARCH

    start = {k: (0.0 if k.startswith("w:") else v) for k, v in DIALOGUE_SEARCH.start.items()}
    return replace(DIALOGUE_SEARCH, start=start, structures=({"query": "turns", "n_candidates": 200},))


def test_a_guard_refuses_the_points_that_cost_its_figure(tmp_path, dialogue_file):
    """The search only moves to points whose guard figures keep `keep` of the start's:
    here a figure that any term weight lowers, so the dev replay's favourite weights are
    refused and counted, and the choice keeps the start's (empty) weights."""
    import numpy as np

    from fusion.tune import ColdStartGuard as Guard

    cat = catalog()
    convs = conversations(dialogue_file)
    rec, _ = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                           progress=False, conversations=convs)
    start, search = rec.with_config(rec.config.with_(weights={})), _unweighted_search()
    free, _ = tune_on_dialogues(start, convs.dev, progress=False, search=search)
    assert any(free.weights.values())  # unguarded, the replay weighs what conversations taught
    guard = Guard("no term weight", lambda c: np.array([-sum(c.weights.values())]), keep=1.0)
    for per_k in (False, True):  # against each structure's start, or the recommender's own config
        config, report = tune_on_dialogues(start, convs.dev, progress=False, guard=guard,
                                           search=replace(search, guard_per_k=per_k))
        assert not any(config.weights.values())
        rows = report["structures"]
        assert all(r["guard"]["refused"] > 0 and np.all(np.array(r["guard"]["best"]) >= r["guard"]["floor"])
                   for r in rows)


def test_a_per_k_guard_refuses_a_loss_at_any_k(tmp_path, dialogue_file):
    """A point that keeps the mean over k but loses at one k is refused when the guard
    holds every k (the default bot's guard: what conversations teach must not cost a
    person with many likes what CF brings them)."""
    import numpy as np

    from fusion.tune import ColdStartGuard as Guard

    cat = catalog()
    convs = conversations(dialogue_file)
    rec, _ = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                           progress=False, conversations=convs)
    start, search = rec.with_config(rec.config.with_(weights={})), _unweighted_search()

    def per_k(c):  # the prior helps at k = 0 as much as it costs at k = 10: the mean never moves
        w = c.weights.get("popularity", 0.0)
        return np.array([1.0 + w, 1.0 - w])

    guard = Guard("one k pays", per_k, keep=1.0)
    free, _ = tune_on_dialogues(start, convs.dev, progress=False, search=replace(search, guard_per_k=False),
                                guard=guard)
    kept, report = tune_on_dialogues(start, convs.dev, progress=False, search=replace(search, guard_per_k=True),
                                     guard=guard)
    assert free.weights.get("popularity", 0.0) > 0  # the mean lets the replay's favourite prior in
    assert kept.weights.get("popularity", 0.0) == 0.0
    assert report["guard_reference"]["ndcg@10_by_k"] == [1.0, 1.0]


def test_term_decay_fades_what_was_learnt_but_not_the_request_as_likes_grow(tmp_path, dialogue_file):
    """PipelineConfig.term_decay n0: every term but the request's own words weighs
    n0 / (n0 + liked items)."""
    import numpy as np

    from fusion.cf import CFScores
    from fusion.recommender import Pool

    cat = catalog()
    rec, _ = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                           progress=False, conversations=conversations(dialogue_file))
    rows = np.arange(4, dtype=np.int64)
    terms = {"popularity": np.array([0.0, 1.0, 0.5, 0.25], np.float32),
             "genres": np.array([1.0, 0.0, 0.5, 0.5], np.float32)}
    cf = CFScores(np.zeros(4, np.float32), np.full(4, -1, np.int64), "history")
    decaying = rec.with_config(rec.config.with_(weights={"popularity": 2.0, "genres": 1.0}, term_decay=3.0))
    for n_liked, fade in ((0, 1.0), (1, 0.75), (3, 0.5)):
        pool = Pool(rows, np.zeros(4, np.float32), cf, n_liked, terms)
        _, weighted, _ = decaying.first_stage(pool, decaying.fuser)
        assert weighted["popularity"] == pytest.approx(2.0 * fade * terms["popularity"])
        assert weighted["genres"] == pytest.approx(terms["genres"])  # the request's words keep their weight
    with pytest.raises(ValueError, match="term_decay"):
        rec.config.with_(term_decay=0.0)


def test_the_tuner_keeps_the_start_when_dialogues_teach_nothing(tmp_path):
    cat = catalog()
    rec, _ = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a", progress=False)
    config, report = tune_on_dialogues(rec, [Dialogue("d", (Utterance(True, "hello", ()),))], progress=False)
    assert config == rec.config and report["n_cases"] == 0 and "skipped" in report


def test_launch_reads_dialogues_into_a_folder_of_their_own(dialogue_file, capsys):
    import launch

    with pytest.raises(SystemExit):
        launch.parse_args(["--catalog", "redial", "--dialogues", str(dialogue_file)])
    assert "drop --dialogues" in capsys.readouterr().err
    own = launch.parse_args(["--catalog", "books.csv", "--dialogues", str(dialogue_file)])
    convs = launch.load_conversations(own, catalog())  # another catalog: no shipped dialogues
    assert len(convs.fit) + len(convs.dev) == 60 and convs.tune is tune_on_dialogues and convs.tune_fingerprint
    assert "2 of their movies linked" in capsys.readouterr().out
    assert launch.load_conversations(launch.parse_args(["--catalog", "books.csv"]), catalog()) is None


def test_the_default_catalog_learns_from_the_shipped_dialogues_and_a_file_adds_to_them(dialogue_file, capsys):
    import launch

    from retrieval.shipped_dialogues import read_dialogues

    named = sorted({i for d in read_dialogues()[:20] for t in d.turns for i in t.item_ids})
    movies = Catalog("movielens", catalog().items + tuple(Item(i, f"Movie {i}", item_text(f"Movie {i}", 1990, ()),
                                                                1990, ()) for i in named), kind=MOVIE)
    shipped = launch.load_conversations(launch.parse_args([]), movies)
    assert len(shipped.fit) + len(shipped.dev) == 1513 and "shipped" in shipped.source
    both = launch.load_conversations(launch.parse_args(["--dialogues", str(dialogue_file)]), movies)
    assert len(both.fit) + len(both.dev) == 1513 + 60 and "shipped" in both.source
    assert launch.load_conversations(launch.parse_args(["--no-dialogues"]), movies) is None
    assert launch.load_conversations(launch.parse_args([]), catalog()) is None  # none of their movies: unused
    assert "none of their movies is in catalog small" in capsys.readouterr().out
    for flags in (["--no-dialogues", "--dialogues", str(dialogue_file)], ["--no-dialogues", "--catalog", "x.csv"]):
        with pytest.raises(SystemExit):
            launch.parse_args(flags)
    assert "--no-dialogues" in capsys.readouterr().err


def test_shipped_choices_replace_tuning_only_for_the_recipe_they_were_made_for(tmp_path, dialogue_file, capsys):
    from fusion.choices import CONVERSATIONS, ShippedChoices, recorded

    cat, convs = catalog(), conversations(dialogue_file)
    tuned, first = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "a",
                                 progress=False, conversations=convs, tune=True)
    assert "conversation tuning" in first.built
    path = tmp_path / "choices.json"
    path.write_text(recorded(tmp_path / "a", "test").to_json())
    choices = ShippedChoices.load(path)
    assert choices.choices[CONVERSATIONS].config == tuned.config
    # a fresh folder, the same data and recipe: the shipped weights, no search, the same pipeline
    again, second = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "b",
                                  conversations=convs, tune=True, choices=choices)
    assert "conversation tuning" not in second.built and again.config == tuned.config
    assert "as tuned at development time" in capsys.readouterr().out
    with pytest.raises(ValueError, match="came from the shipped file"):
        recorded(tmp_path / "b", "test")  # a shipped choice is never recorded as a tuning
    # other dev dialogues: the file does not apply, and the build says why before tuning
    other = replace(convs, dev=convs.dev[1:])
    _, third = load_or_build(cat, make_checkerboard(cat), HashingEncoder(dim=256), tmp_path / "c",
                             conversations=other, tune=True, choices=choices)
    assert "conversation tuning" in third.built
    assert "the shipped choices were made for another dev" in capsys.readouterr().out


def test_unreadable_shipped_choices_are_ignored(tmp_path):
    from fusion.choices import ShippedChoices

    for text in ("", "{}", '{"recipe": {}, "choices": {"ratings": {"pipeline": {"alpha": "x"}}}}'):
        (tmp_path / "c.json").write_text(text)
        assert ShippedChoices.load(tmp_path / "c.json") is None
    assert ShippedChoices.load(tmp_path / "missing.json") is None


def test_the_cold_start_benchmark_reads_the_learnt_pipeline_the_build_serves(tmp_path, dialogue_file):
    from benchmarks.coldstart import shipped_recommender
    from fusion.build import learnt_pipeline

    cat = catalog()
    log = make_checkerboard(cat)
    rec, _ = load_or_build(cat, log, HashingEncoder(dim=256), tmp_path / "a", progress=False,
                           conversations=conversations(dialogue_file))
    shipped = shipped_recommender(tmp_path / "a", rec.retriever, rec.cf, rec.config)
    assert shipped.config == rec.config and list(shipped.terms) == list(rec.terms)
    plain, _ = load_or_build(cat, log, HashingEncoder(dim=256), tmp_path / "b", progress=False)
    assert learnt_pipeline(tmp_path / "b", plain.retriever, plain.cf) is None  # built without dialogues: the ratings path
