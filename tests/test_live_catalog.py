"""Live catalog updates (issue 34): items added, replaced and withdrawn while the bot serves.

Known answers on the tiny catalog (tests/conftest.py) with the hashing encoder: an added
"Dinosaur Submarine" is the first answer to its own words, with a reason; the withdrawn
m0 "Cartoon Kittens" is never listed again, even for its own title; a restart (the update
log replayed over the folder's build) serves both; bad rows change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bot.conversation.chat import Bot
from bot.service.admin import ADMIN_BODY_LIMIT, TOKEN_HEADER, CatalogAdmin
from fusion.build import load_or_build
from fusion.catalog_log import UPDATES, recorded, replay
from fusion.catalog_update import apply_change, change_from_rows
from fusion.cf import History
from fusion.config import PipelineConfig
from fusion.grown import ColdItemsCF
from retrieval.artifacts import StaleArtifactError
from retrieval.encoder import HashingEncoder
from retrieval.index import exact_top
from retrieval.loaders import DataError
from retrieval.records import Query
from tests.helpers import chat_over_http, launch_app, tiny_bot

NEW = {"item_id": "n1", "title": "Dinosaur Submarine", "year": 2001, "genres": ["Adventure", "Animation"],
       "description": "A dinosaur pilots a submarine to the ocean floor."}
TOKEN = "t" * 40


def ids(answer) -> list[str]:
    return [r.recommendation.item.item_id for r in answer.items]


def updated_bot(bot: Bot, rows=(NEW,), remove=("m0",)) -> Bot:
    recommender, _, _ = apply_change(bot.recommender, change_from_rows(bot.catalog, list(rows), list(remove)))
    return Bot(recommender, bot.config, bot.writer)


def test_an_added_item_is_found_by_its_words_and_a_withdrawn_one_never_again():
    old = tiny_bot(k=3)
    assert ids(old.respond("a cartoon about kittens", old.new_session("a")))[0] == "m0"
    bot = updated_bot(old)
    answer = bot.respond("a dinosaur submarine", bot.new_session("s"))
    assert ids(answer)[0] == "n1"
    assert answer.items[0].reason  # a reason, from the item's own words
    for message in ("a cartoon about kittens", "kittens", "something like Cartoon Kittens", "animation"):
        session = bot.new_session("t")
        for _ in range(4):  # page through the whole catalog: m0 never comes
            answer = bot.respond(message, session)
            assert "m0" not in ids(answer)
            session = answer.session
    # the withdrawn item keeps its row: a like of it is still read and cited
    assert "m0" in bot.catalog and bot.catalog.items[bot.catalog.row("m0")].title == "Cartoon Kittens"
    # the old version is untouched: a turn in flight on it finishes as it started
    assert len(old.catalog) == 12 and "n1" not in old.catalog
    assert ids(old.respond("a cartoon about kittens", old.new_session("b")))[0] == "m0"


def test_every_part_sees_the_change():
    bot = tiny_bot(k=3)
    rec = bot.recommender
    change = change_from_rows(rec.catalog, [NEW, {"item_id": "m6", "title": "Midnight Heist",
                                                  "description": "Robbers dig a tunnel under a bank."}], ["m1"])
    new, report, vectors = apply_change(rec, change)
    assert report.added == ("n1",) and report.updated == ("m6",) and report.removed == ("m1",)
    assert (report.n_items, report.n_available) == (13, 12)
    catalog = new.catalog
    # the item text is the loader's, re-embedded by the pipeline's own encoder
    assert "ocean floor" in catalog.items[12].text and "tunnel" in catalog.items[6].text
    np.testing.assert_allclose(new.retriever.item_vectors[[12, 6]], rec.retriever.encoder.encode(
        [catalog.items[12].text, catalog.items[6].text]), atol=1e-6)
    # FAISS answers as brute force does over the new vectors
    q = new.retriever.item_vectors[[12, 6, 3]]
    scores, rows = new.retriever.index.search(q, 5)
    truth = exact_top(new.retriever.item_vectors, q, 5)
    np.testing.assert_allclose(scores, np.take_along_axis(new.retriever.item_vectors @ q.T, truth.T, 0).T, atol=1e-5)
    assert rows[:, 0].tolist() == [12, 6, 3]  # each item is its own nearest
    # CF: the new item is cold (score 0, count 0, no evidence), the old scores unchanged
    assert isinstance(new.cf, ColdItemsCF) and new.cf.counts[12] == 0
    history = History(np.array([2, 12], np.int64), np.array([1.0, 1.0], np.float32))
    cold = new.cf.score(history, np.array([3, 12], np.int64))
    fitted = rec.cf.score(History(np.array([2], np.int64), np.array([1.0], np.float32)), np.array([3], np.int64))
    assert cold.scores[1] == 0 and cold.evidence_rows[1] == -1 and cold.scores[0] == pytest.approx(fitted.scores[0])
    # the facet and vocabulary indexes: the new genre and title are known to the new bot
    new_bot = Bot(new, bot.config)
    assert "adventure" in new_bot.catalog_genres and "adventure" not in bot.catalog_genres
    assert [m.item_id for m in new_bot.linker.find('"Dinosaur Submarine"')] == ["n1"]
    # the withdrawn item is out of every candidate source, filters or not
    pool = new.candidates(Query(texts=("cartoon puppies",), liked_ids=("m2",)))
    assert 1 not in pool.rows.tolist() and 12 in pool.rows.tolist()


@pytest.mark.parametrize("rows, remove, message", [
    ([{"item_id": "x"}], [], "rows:1: missing column(s) ['title']"),
    ([{"item_id": "x", "title": "A", "year": "abc"}], [], "rows:1: year 'abc' is not a number"),
    ([{"item_id": "x", "title": "A"}, {"item_id": "x", "title": "B"}], [], "rows:2: duplicate item_id 'x'"),
    ([{"item_id": "x", "title": "A", "num:runtime": "long"}], [], "rows:1: column 'num:runtime'"),
    ([], ["nope"], "cannot withdraw ['nope']"),
    ([{"item_id": "m2", "title": "Funny Farm Friends"}], ["m2"], "both given and withdrawn"),
    ([], [], "needs rows"),
])
def test_bad_rows_change_nothing(tmp_path, rows, remove, message):
    bot = tiny_bot(k=3)
    holder = type("Holder", (), {"bot": bot})()
    admin = CatalogAdmin(holder, tmp_path, TOKEN)
    with pytest.raises(DataError) as e:
        admin.update(rows, remove)
    assert message in str(e.value)
    assert holder.bot is bot and len(bot.catalog) == 12 and not (tmp_path / UPDATES).exists()


def test_a_restart_serves_the_recorded_catalog(serving, tiny_catalog, checkerboard):
    def load():
        rec, _ = load_or_build(tiny_catalog, checkerboard, HashingEncoder(dim=256), serving,
                               PipelineConfig(n_candidates=None), progress=False)
        return replay(serving, rec)

    rec, n = load()
    assert n == 0
    holder = type("Holder", (), {"bot": Bot(rec)})()
    admin = CatalogAdmin(holder, serving, TOKEN)
    assert admin.update([NEW], ["m0"])["version"] == 1
    assert admin.update([{"item_id": "n2", "title": "Volcano Choir"}], [])["version"] == 2
    served = holder.bot.recommender
    again, n = load()
    assert n == 2
    assert again.catalog.fingerprint() == served.catalog.fingerprint()
    assert again.catalog.unavailable_ids == {"m0"} and "n2" in again.catalog
    np.testing.assert_array_equal(again.retriever.item_vectors, served.retriever.item_vectors)
    bot = Bot(again)
    assert ids(bot.respond("a dinosaur submarine", bot.new_session("s")))[0] == "n1"
    assert "m0" not in ids(bot.respond("a cartoon about kittens", bot.new_session("t")))
    # a changed log file is refused, not half-read
    log = serving / UPDATES
    (log / "0001.jsonl").write_text((log / "0001.jsonl").read_text().replace("Dinosaur", "Dragon"))
    with pytest.raises(StaleArtifactError, match="changed since it was recorded"):
        load()


def test_an_uncommitted_change_is_never_read(serving, tiny_catalog, checkerboard):
    rec, _ = load_or_build(tiny_catalog, checkerboard, HashingEncoder(dim=256), serving,
                           PipelineConfig(n_candidates=None), progress=False)
    holder = type("Holder", (), {"bot": Bot(rec)})()
    CatalogAdmin(holder, serving, TOKEN).update([NEW], [])
    (serving / UPDATES / "0002.jsonl").write_text(json.dumps({"item_id": "ghost", "title": "Ghost"}) + "\n")
    again, n = replay(serving, rec)
    assert n == 1 and "ghost" not in again.catalog and len(recorded(serving)) == 1
    CatalogAdmin(type("H", (), {"bot": Bot(again)})(), serving, TOKEN).update([], ["m3"])  # takes number 2
    assert [c["number"] for c in recorded(serving)] == [1, 2]
    assert "ghost" not in replay(serving, rec)[0].catalog


def test_the_admin_route_over_http(tmp_path):
    bot = tiny_bot(k=3)
    app = launch_app(bot, tmp_path, ui=False)
    client = TestClient(app)
    # a server without an admin token refuses every update
    r = client.post("/api/admin/catalog", json={"rows": [NEW]})
    assert r.status_code == 403 and "--admin-token-file" in r.json()["error"]

    from bot.service.chatservice import ChatService
    from bot.service.server import build_app

    service = ChatService(bot)
    admin = CatalogAdmin(service, tmp_path / "art", TOKEN)
    client = TestClient(build_app(service, ui=False, admin=admin))
    assert client.post("/api/admin/catalog", json={"rows": [NEW]}).status_code == 403
    assert client.post("/api/admin/catalog", json={"rows": [NEW]},
                       headers={TOKEN_HEADER: "x" * 40}).status_code == 403
    r = client.post("/api/admin/catalog", json={"rows": [{"item_id": "x", "title": ""}]},
                    headers={TOKEN_HEADER: TOKEN})
    assert r.status_code == 400 and "nothing changed" in r.json()["error"] and service.bot is bot
    before = chat_over_http(client, ["a dinosaur submarine"])
    r = client.post("/api/admin/catalog", json={"rows": [NEW], "remove": ["m0"]}, headers={TOKEN_HEADER: TOKEN})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == ["n1"] and r.json()["removed"] == ["m0"] and r.json()["version"] == 1
    after = chat_over_http(client, ["a dinosaur submarine"])
    assert "n1" not in [i["item_id"] for i in before[0]["items"]]
    first = after[0]["items"][0]
    assert first["item_id"] == "n1" and first["reason"]
    for answer in chat_over_http(client, ["a cartoon about kittens", "more", "more", "more"]):
        assert "m0" not in [i["item_id"] for i in answer["items"]]
    # a large update: the admin token lifts the API's body limit (64 KB), nothing else does
    rows = [{"item_id": f"b{i}", "title": f"Bulk {i}", "description": "word " * 200} for i in range(80)]
    body = json.dumps({"rows": rows}).encode()
    assert 64 * 1024 < len(body) < ADMIN_BODY_LIMIT
    headers = {"content-type": "application/json"}
    assert client.post("/api/admin/catalog", content=body, headers=headers).status_code == 413
    r = client.post("/api/admin/catalog", content=body, headers={**headers, TOKEN_HEADER: TOKEN})
    assert r.status_code == 200 and len(r.json()["added"]) == 80 and r.json()["items"] == 93


def test_the_command_updates_a_stopped_folder_and_launch_serves_it(tmp_path, tiny_model):
    import launch
    from bot.service import admin

    data = Path(__file__).parent / "data" / "movies"
    flags = ["--catalog", str(data / "movies.csv"), "--interactions", str(data / "ratings.csv"),
             "--artifacts", str(tmp_path / "art"), "--encoder", str(tiny_model), "--no-finetune", "--no-tune",
             "--query-precision", "float32"]
    launch.make_bot(launch.parse_args(flags))  # the first build
    rows = tmp_path / "new.csv"
    rows.write_text("item_id,title,year,genres,people:director\n"
                    "cartoon,Cartoon Kittens,1995,Animation|Children,Ann Lee\n")
    assert launch.main(["catalog", "--rows", str(rows), "--remove", "memento", "--", *flags]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,title,year\nx,Bad,soon\n")
    assert launch.main(["catalog", "--rows", str(bad), "--", *flags]) == 2
    assert admin.main(["--rows", str(bad)]) == 2  # no folder to load without launch.py
    bot, _ = launch.make_bot(launch.parse_args(flags))  # a restart
    assert "cartoon" in bot.catalog and bot.catalog.unavailable_ids == {"memento"}
    assert len(recorded(tmp_path / "art")) == 1
    session = bot.new_session("s")
    shown = set()
    for _ in range(6):
        answer = bot.respond("cartoon kittens", session)
        shown |= set(ids(answer))
        session = answer.session
    assert "cartoon" in shown and "memento" not in shown


def test_an_update_shortens_thread_switches_only_while_it_runs():
    import sys

    from bot.service.admin import UPDATE_SWITCH_S, short_switches

    before = sys.getswitchinterval()
    with short_switches():
        assert sys.getswitchinterval() == pytest.approx(min(before, UPDATE_SWITCH_S))
    assert sys.getswitchinterval() == before
