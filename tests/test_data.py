"""Catalog/interaction records and the CSV/JSONL loaders: validation names file, line, fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.loaders import DataError, load_catalog, load_interactions
from retrieval.records import Catalog, Item, UnknownItemError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_catalog_rows_and_fingerprint(tiny_catalog):
    assert len(tiny_catalog) == 12
    assert tiny_catalog.row("m7") == 7
    assert tiny_catalog.rows(["m2", "m0"]).tolist() == [2, 0]
    with pytest.raises(UnknownItemError, match="m99"):
        tiny_catalog.row("m99")
    same = Catalog("tiny", tiny_catalog.items)
    assert same.fingerprint() == tiny_catalog.fingerprint()
    changed = Catalog("tiny", tiny_catalog.items[:-1])
    assert changed.fingerprint() != tiny_catalog.fingerprint()


def test_catalog_rejects_duplicate_ids():
    a = Item("x", "A", "A.")
    with pytest.raises(ValueError, match="duplicate item id 'x'"):
        Catalog("c", (a, a))


def test_load_catalog_csv_builds_text(tmp_path):
    p = write(tmp_path / "cat.csv", "item_id,title,year,genres\n1,Alpha,1999,Drama|War\n2,Beta,,\n")
    cat = load_catalog(p)
    assert cat.name == "cat"
    assert cat.items[0].text == "Alpha (1999). Genres: Drama, War."
    assert cat.items[0].genres == ("Drama", "War")
    assert cat.items[1].year is None and cat.items[1].text == "Beta."


def test_load_catalog_jsonl_keeps_given_text(tmp_path):
    lines = [{"item_id": "a", "title": "Alpha", "text": "A war story", "director": "X"}]
    p = write(tmp_path / "cat.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n")
    item = load_catalog(p).items[0]
    assert item.text == "A war story" and item.fields == {"director": "X"}


@pytest.mark.parametrize("content, message", [
    ("title\nAlpha\n", r"cat.csv:1: missing column\(s\) \['item_id'\]"),  # the header's line
    ("item_id,title\n1,Alpha\n1,Beta\n", r"cat.csv:3: duplicate item_id '1' \(first on line 2\)"),
    ("item_id,title\n1,\n", r"cat.csv:2: item '1' has an empty title"),
    ("item_id,title,year\n1,Alpha,soon\n", r"cat.csv:2: year 'soon' is not a number"),
    ("item_id,title\n", r"no items"),
])
def test_load_catalog_errors(tmp_path, content, message):
    p = write(tmp_path / "cat.csv", content)
    with pytest.raises(DataError, match=message):
        load_catalog(p)


def test_load_catalog_bad_file_type_and_missing(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_catalog(tmp_path / "none.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        load_catalog(write(tmp_path / "cat.xml", "<x/>"))
    with pytest.raises(DataError, match=r"cat.jsonl:2: not valid JSON"):
        load_catalog(write(tmp_path / "cat.jsonl", '{"item_id": "1", "title": "A"}\n{oops\n'))


def test_load_interactions(tmp_path, tiny_catalog):
    p = write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu1,m3,4.5,10\nu2,m0,,\n")
    with pytest.raises(DataError, match=r"r.csv:3: column 'rating' is blank"):
        load_interactions(p, tiny_catalog)
    inter = load_interactions(p, tiny_catalog, blank_ratings="implicit")
    assert inter.item_rows.tolist() == [3, 0]
    assert inter.weights.tolist() == [4.5, 1.0]  # blank rating = implicit 1, when asked for
    assert inter.timestamps.tolist() == [10, 0]
    assert inter.users() == ["u1", "u2"]


def test_load_interactions_unknown_item(tmp_path, tiny_catalog):
    p = write(tmp_path / "r.csv", "user_id,item_id\nu1,m3\nu1,zzz\n")
    with pytest.raises(DataError, match=r"r.csv:3: item_id 'zzz' is not in catalog 'tiny'; add it"):
        load_interactions(p, tiny_catalog)


def test_interactions_fingerprint_changes_with_data(checkerboard):
    from retrieval.records import Interactions

    w = checkerboard.weights.copy()
    w[0] += 1
    other = Interactions(checkerboard.user_ids, checkerboard.item_rows, w, checkerboard.timestamps)
    assert other.fingerprint() != checkerboard.fingerprint()
    assert len(checkerboard) == 48 and np.all(checkerboard.item_rows < 12)


@pytest.mark.slow
def test_movielens_embedded_default():
    pytest.importorskip("pandas")
    from retrieval.movielens import load_movielens

    catalog, inter = load_movielens()
    assert (len(catalog), len(inter), len(inter.users())) == (9061, 99997, 671)  # 5 untitled movies left out
    assert all(it.title.strip() for it in catalog.items)
    toy = catalog.items[catalog.row("1")]
    assert toy.title == "Toy Story" and toy.year == 1995 and "Animation" in toy.genres
    # runtime from IMDB (ggplot2movies); DBpedia has no people for Toy Story (tests/test_movielens_facets.py)
    # then its TMDB topics (the first 8) and description (retrieval/data/movielens_content.jsonl.gz)
    assert toy.text == ("Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy. Topics: jealousy, "
                        "toy, boy, friendship, friends, rivalry, boy next door, new toy. Runtime: 81 min. Led by Woody, "
                        "Andy's toys live happily in his room until Andy's birthday brings Buzz Lightyear onto the "
                        "scene. Afraid of losing his place in Andy's heart, Woody plots against Buzz.")
