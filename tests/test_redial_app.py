"""`launch.py --catalog redial` as a person meets it: the real server on a free port,
the real ReDial catalog and base encoder, a pipeline fitted on a slice of train.jsonl,
and a scripted two-turn conversation over HTTP and through gradio_client. Skips where
../shared/data/redial is absent (a fresh clone)."""

from __future__ import annotations

import json

import pytest

from retrieval.redial import default_data_dir
from tests.helpers import chat_over_http, chat_through_gradio, serve_process

DATA = default_data_dir()
N_TRAIN = 80  # dialogues the test pipeline learns from: enough for CF evidence, fast to fit
TURNS = ("Hi! I loved The Dark Knight, can you suggest something like it?",
         "Now something funny, no horror please")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (DATA / "train.jsonl").exists(),
                                                   reason=f"ReDial data not found at {DATA} (absent on fresh clones)")]


@pytest.fixture(scope="module")
def redial_url(tmp_path_factory):
    pytest.importorskip("pandas", reason="the ReDial catalog borrows MovieLens genres: the demo extra")
    from fusion.config import PipelineConfig
    from fusion.conversations import fit_components, fit_linked_ratings, save_system
    from retrieval.encoder import TransformerEncoder
    from retrieval.movielens import load_movielens
    from retrieval.redial import load_catalog_with_genres, load_dialogues

    tmp = tmp_path_factory.mktemp("redial")
    data = tmp / "data"
    data.mkdir()
    for name in ("movies_with_mentions.csv", "movie_facts.json"):
        (data / name).symlink_to(DATA / name)
    lines = (DATA / "train.jsonl").read_text(encoding="utf-8").splitlines()[:N_TRAIN]
    (data / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    catalog = load_catalog_with_genres(data)
    art = tmp / "system"
    fit_components(load_dialogues(data / "train.jsonl", catalog), catalog, TransformerEncoder(),
                   art / "systems" / "base", fit_linked_ratings(catalog, *load_movielens()), head_epochs=2,
                   progress=False)
    config = PipelineConfig(query="context", n_candidates=None, like_weight=1.0, mention_weight=1.0, alpha=0.7,
                            entity_weight=0.3, weights={"popularity": 0.3, "head": 1.0, "ratings": 0.2},
                            genre_first=True)
    save_system(art, config, catalog, "systems/base", "base")
    with serve_process(tmp, "--catalog", "redial", "--data-dir", str(data), "--artifacts", str(art),
                       entry=("launch.py",), timeout_s=300) as server:
        yield server.url


def check_turns(lists: list[list[dict]]) -> None:
    first, second = lists
    for items in lists:
        ids = [i["item_id"] for i in items]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert all(i["reason"].strip() for i in items)
        # score = the weighted parts (no second stage in this pipeline)
        assert all(abs(i["score"] - sum(i["parts"].values())) < 1e-4 and not i["reranked"] for i in items)
        assert {"text", "cf", "head", "popularity", "ratings"} <= set(items[0]["parts"])
    assert not {i["item_id"] for i in first} & {i["item_id"] for i in second}  # nothing shown twice
    assert all(i["title"] != "The Dark Knight" for i in first)  # a liked movie is not recommended back
    assert not any("Horror" in i["genres"] for i in second)
    assert sum("Comedy" in i["genres"] for i in second) >= 3


def test_two_turns_over_http(redial_url):
    answers = chat_over_http(redial_url, TURNS)
    lists = [a["items"] for a in answers]
    from retrieval.redial import load_catalog

    catalog = load_catalog(DATA)
    liked = answers[-1]["understood"]["liked"]
    assert [catalog.items[catalog.row(i)].title for i in liked] == ["The Dark Knight"]
    check_turns(lists)
    print(json.dumps([[(i["title"], i["reason"]) for i in items[:3]] for items in lists], indent=1))


def test_two_turns_through_gradio_client(redial_url):
    history, lists = chat_through_gradio(redial_url, TURNS)
    content = history[1]["content"]  # Gradio 6: a list of {"type": "text", "text": ...} parts
    said = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    assert len(history) == 4 and "Noted: you like The Dark Knight (2008)" in said
    assert all(len(items) == 10 for items in lists)
