"""What MovieLens movies are about (retrieval/movielens_content.py, retrieval/data/build_content.py):
cutting descriptions and choosing topics with known answers, the file's round trip and
errors, then the real catalog (Heat) and the shipped file rebuilt from the shared source."""

import gzip

import pytest

from retrieval.data.build_content import META_KEYWORDS, default_source, describe, sentences, topics
from retrieval.facets import MAX_TOPICS_IN_TEXT, TOPIC_FACET, facet_line
from retrieval.loaders import DataError
from retrieval.movielens_content import CONTENT_FILE, Content, content_bytes, read_content
from tests.helpers import demo

CONTENT = {"10": Content("A thief meets his match.", ("heist", "los angeles")),
           "2": Content("", ("simulated reality",)),
           "7": Content()}  # nothing known: not written


def test_sentences_do_not_end_at_abbreviations_or_initials():
    text = "Dr. No meets  Mr. Smith in the U.S. They fight.\nNeil D. McCauley wins! \"Is it?\" he asks. The end"
    assert sentences(text) == ["Dr. No meets Mr. Smith in the U.S. They fight.", "Neil D. McCauley wins!",
                               '"Is it?" he asks.', "The end"]


def test_descriptions_keep_whole_sentences_within_the_limit():
    assert describe("One two.  Three four. Five six.", limit=20) == "One two. Three four."
    assert describe("One two three four five. Six.", limit=12) == "One two…"  # first sentence cut at a word
    assert describe("One two, three four.", limit=10) == "One two…"  # no comma before the ellipsis
    assert describe("No overview found.") == "" and describe("") == ""
    long = "word " * 100
    assert len(describe(long)) <= 240 and describe(long).endswith("word…")


def test_topics_are_lower_case_once_each_without_meta_keywords():
    assert topics(["Heist", "duringcreditsstinger", "Los  Angeles", "heist", "woman director", "3D"]) == (
        "heist", "los angeles")
    assert {"independent film", "aftercreditsstinger"} <= META_KEYWORDS and "sequel" not in META_KEYWORDS


def test_content_file_round_trips_with_deterministic_bytes(tmp_path):
    data = content_bytes(CONTENT)
    assert data == content_bytes(dict(reversed(list(CONTENT.items()))))  # order of input does not matter
    lines = gzip.decompress(data).decode().splitlines()
    assert [line.split('"')[3] for line in lines] == ["2", "10"]  # numeric order, empty "7" left out
    assert lines[0] == '{"item_id": "2", "description": "", "topics": ["simulated reality"]}'
    path = tmp_path / "content.jsonl.gz"
    path.write_bytes(data)
    assert read_content(path) == {k: v for k, v in CONTENT.items() if v}


@pytest.mark.parametrize("data", [
    b"not gzip",
    gzip.compress(b'{"item_id": 6, "description": "x", "topics": []}\n'),  # numeric id
    gzip.compress(b'{"item_id": "6", "description": "x", "topics": "heist"}\n'),  # topics not a list
    gzip.compress(b'{"item_id": "6", "description": "x"\n'),  # broken JSON
])
def test_missing_or_malformed_content_file_says_how_to_rebuild(tmp_path, data):
    with pytest.raises(DataError, match="build_content"):
        read_content(tmp_path / "absent.jsonl.gz")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(data)
    with pytest.raises(DataError, match=r"broken.jsonl.gz.*build_content"):
        read_content(broken)




@pytest.mark.slow  # real data: loading MovieLens with its facets and content takes ~2-3 s
@demo
def test_heat_knows_it_is_a_heist_movie():
    from retrieval.movielens import load_movielens

    catalog, _ = load_movielens()
    heat = catalog.items[catalog.row("6")]
    description = heat.fields["description"]
    assert description.startswith("Obsessive master thief, Neil McCauley leads a top-notch crew")
    assert heat.facets.has_category(TOPIC_FACET, "heist") and len(heat.facets.topics()) > MAX_TOPICS_IN_TEXT
    assert heat.facets.people["director"] == ("Michael Mann",)  # people and IMDB facts are still there
    assert heat.text.startswith("Heat (1995). Genres: Action, Crime, Thriller. Topics: robbery, detective, bank, ")
    assert heat.text.endswith(f"Rated R. Runtime: 188 min. {description}")
    assert "heist" not in facet_line(heat.facets)  # the card line shows what it is, not dozens of topics
    described = sum("description" in it.fields for it in catalog.items)
    topical = sum(bool(it.facets.topics()) for it in catalog.items)
    # measured on the shipped file: 9,002 of the 9,061 movies described, 8,069 with topics
    assert 8900 < described <= 9061 and 7900 < topical < 8200
    persuasion = catalog.items[catalog.row("28")]  # no people, no IMDB facts: the topics alone make its Facets
    assert persuasion.label() == "Persuasion (1995)" and set(persuasion.facets.categories) == {TOPIC_FACET}
    assert persuasion.facets.topics()[:2] == ("captain", "napoleonic wars") and not persuasion.facets.people


@pytest.mark.slow
@demo
def test_rebuilding_the_content_file_gives_identical_bytes():
    source = default_source()
    if not source.exists():
        pytest.skip(f"movie content source not found at {source} (absent on fresh clones): cannot rebuild")
    from retrieval.data.build_content import build

    data, covered, _, _ = build(source)
    assert data == CONTENT_FILE.read_bytes(), "shipped file is stale: run `python -m retrieval.data.build_content`"
    assert covered == len(read_content())
