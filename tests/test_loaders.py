"""Loaders meeting real files (Excel exports, other separators and encodings, messy headers,
ratings on other scales), facet columns, the catalog config and the books fixture. Every bad
file ends in a DataError naming the file, the line and the fix, or loads correctly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.catalog_config import infer_kind, parse_rating_scale
from retrieval.facets import BOOK, MOVIE, TOPIC_FACET, Facets, ItemKind, facet_line
from retrieval.loaders import DataError, item_text, load_catalog, load_interactions, read_catalog

BOOKS = Path(__file__).parent / "data" / "books"
CATALOG = "item_id,title,year,genres\nm1,Alpha,1999,Drama|War\nm2,Beta,2001,Comedy\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def two(tmp_path):
    return load_catalog(write(tmp_path / "cat.csv", CATALOG))


# --- bytes, separators and headers ---------------------------------------------------------

def test_excel_bom_is_read(tmp_path):
    cat = load_catalog(write(tmp_path / "cat.csv", "\ufeff" + CATALOG))
    assert [i.item_id for i in cat.items] == ["m1", "m2"]


def test_utf16_excel_unicode_text_is_read(tmp_path):
    cat = load_catalog(write(tmp_path / "cat.txt", "\ufeff" + CATALOG.replace(",", "\t"), "utf-16-le"))
    assert cat.items[0].genres == ("Drama", "War")


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separators_are_sniffed(tmp_path, sep):
    cat = load_catalog(write(tmp_path / "cat.csv", CATALOG.replace(",", sep)))
    assert cat.items[0].title == "Alpha" and cat.items[0].genres == ("Drama", "War") and cat.items[1].year == 2001


def test_decimal_comma_in_a_semicolon_file(tmp_path, two):
    p = write(tmp_path / "r.csv", "user_id;item_id;rating\nu1;m1;4,5\n")
    assert load_interactions(p, two).weights.tolist() == [4.5]


def test_cp1252_bytes_name_the_line_and_the_encoding(tmp_path):
    p = write(tmp_path / "cat.csv", "item_id,title\n1,Alpha\n2,Caf\u00e9 \u201cNoir\u201d\n", "cp1252")
    with pytest.raises(DataError, match=r"cat.csv:3: bytes b'\\xe9' are not valid utf-8; .*--encoding cp1252"):
        load_catalog(p)
    assert load_catalog(p, encoding="cp1252").items[1].title == "Caf\u00e9 \u201cNoir\u201d"


def test_unknown_encoding(tmp_path):
    with pytest.raises(DataError, match="unknown encoding 'utf-9'"):
        load_catalog(write(tmp_path / "cat.csv", CATALOG), encoding="utf-9")


def test_headers_match_ignoring_case_and_spaces(tmp_path):
    cat = load_catalog(write(tmp_path / "cat.csv", " Item_ID , TITLE ,Year\n1,Alpha,1999\n"))
    assert cat.items[0].label() == "Alpha (1999)"


def test_clashing_headers(tmp_path):
    with pytest.raises(DataError, match=r"cat.csv:1: columns 2 and 3 are both named 'title'"):
        load_catalog(write(tmp_path / "cat.csv", "item_id,Title,title \n1,A,B\n"))


def test_missing_column_lists_found_and_needed(tmp_path):
    with pytest.raises(DataError, match=r"cat.csv:1: missing column\(s\) \['item_id'\]; the columns found are "
                                        r"\['id', 'title'\], a catalog needs \['item_id', 'title'\]"):
        load_catalog(write(tmp_path / "cat.csv", "id,title\n1,Alpha\n"))


def test_unquoted_separator_in_a_value(tmp_path):
    with pytest.raises(DataError, match=r"cat.csv:3: 4 values but the header has 3 columns; quote values"):
        load_catalog(write(tmp_path / "cat.csv", "item_id,title,year\n1,Alpha,1999\n2,Hello, World,2001\n"))


def test_jsonl_lists_and_keys(tmp_path):
    rec = {" Item_ID": "1", "Title": "Alpha", "genres": ["Drama", "War"], "people:cast": ["A", "B"]}
    item = load_catalog(write(tmp_path / "cat.jsonl", json.dumps(rec) + "\n")).items[0]
    assert item.genres == ("Drama", "War") and item.facets.people == {"cast": ("A", "B")}


# --- ratings ---------------------------------------------------------------------------------

def test_default_scale_accepts_half_stars_and_five_stars(tmp_path, two):
    p = write(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,0.5\nu1,m2,5\n")
    assert load_interactions(p, two).weights.tolist() == [0.5, 5.0]


def test_rating_off_the_scale_names_the_flag(tmp_path, two):
    p = write(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,4\nu1,m2,50\n")
    with pytest.raises(DataError, match=r"r.csv:3: column 'rating' value '50' is outside the rating scale 1-5; "
                                        r".*--rating-scale LOW-HIGH"):
        load_interactions(p, two, rating_scale=(1, 5))
    assert load_interactions(p, two, rating_scale=parse_rating_scale("0-100")).weights.tolist() == [4, 50]


def test_blank_ratings_are_refused_unless_implicit(tmp_path, two):
    p = write(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,4\nu2,m2,\n")
    with pytest.raises(DataError, match=r"r.csv:3: column 'rating' is blank; .*--blank-ratings implicit"):
        load_interactions(p, two)
    assert load_interactions(p, two, blank_ratings="implicit").weights.tolist() == [4.0, 1.0]


def test_a_log_without_ratings_is_implicit(tmp_path, two):
    p = write(tmp_path / "r.csv", "user_id,item_id\nu1,m1\n")
    assert load_interactions(p, two).weights.tolist() == [1.0]


@pytest.mark.parametrize("line, column, value", [
    ("u1,m1,four,10", "rating", "four"), ("u1,m1,nan,10", "rating", "nan"),
    ("u1,m1,4,yesterday", "timestamp", "yesterday"),
])
def test_non_numbers_name_the_column_and_value(tmp_path, two, line, column, value):
    p = write(tmp_path / "r.csv", f"user_id,item_id,rating,timestamp\n{line}\n")
    with pytest.raises(DataError, match=rf"r.csv:2: column '{column}' value '{value}' is not a number"):
        load_interactions(p, two)


@pytest.mark.parametrize("text, scale", [("1-5", (1.0, 5.0)), ("0.5-5", (0.5, 5.0)), ("1..10", (1.0, 10.0))])
def test_rating_scale_flag_values(text, scale):
    assert parse_rating_scale(text) == scale


@pytest.mark.parametrize("text", ["5-1", "five", "1-"])
def test_bad_rating_scales(text):
    with pytest.raises(ValueError, match="rating scale"):
        parse_rating_scale(text)


# --- genres and facets -----------------------------------------------------------------------

def test_genres_split_by_commas_give_a_notice(tmp_path):
    p = write(tmp_path / "cat.csv", 'item_id,title,genres\n1,A,"Comedy, Drama"\n2,B,"Action, War"\n3,C,Drama\n')
    loaded = read_catalog(p)
    assert loaded.catalog.items[0].genres == ("Comedy, Drama",)  # split on '|' only, as documented
    assert loaded.notices == (f"{p}: column 'genres' is split on '|' only, but 2 of 3 rows use ',' and none '|': "
                              "'Comedy, Drama' is one value, not several; write 'Comedy|Drama'",)
    assert read_catalog(write(tmp_path / "ok.csv", "item_id,title,genres\n1,A,Sci-Fi/Fantasy|War\n")).notices == ()


def test_facet_columns_become_facets_and_text(tmp_path):
    p = write(tmp_path / "films.csv", "item_id,title,year,People:Director,num:runtime,cat:mpaa,studio\n"
                                      "1,Heat,1995,Michael Mann,170,R,Warner\n2,Up,2009,,96,PG|G,\n")
    loaded = read_catalog(p)
    heat, up = loaded.catalog.items
    assert heat.facets.people == {"director": ("Michael Mann",)} and heat.facets.numbers == {"runtime": 170.0}
    assert up.facets.categories == {"mpaa": ("PG", "G")} and not up.facets.people
    assert heat.text == "Heat (1995). Directed by Michael Mann. Rated R. Runtime: 170 min."
    assert heat.fields == {"studio": "Warner"} and up.fields == {}
    assert loaded.catalog.kind == MOVIE and "inferred from column people:director, num:runtime" in loaded.config.kind_note


def test_a_text_column_wins_over_facet_sentences(tmp_path):
    p = write(tmp_path / "cat.csv", "item_id,title,text,people:author\n1,A,A quiet story.,Ann\n")
    item = load_catalog(p).items[0]
    assert item.text == "A quiet story." and item.facets.names() == ("Ann",)


def test_item_text_reads_topics_after_genres_and_the_description_last():
    facets = Facets(people={"director": ("Michael Mann",)}, numbers={"runtime": 170.0},
                    categories={"mpaa": ("R",), TOPIC_FACET: tuple(f"t{i}" for i in range(10))})
    assert [label for label, _ in facets.sentences()] == ["Directed by", "Rated", "Runtime:"]  # no topics twice
    assert facet_line(facets) == "Michael Mann · 170 min · R"
    text = item_text("Heat", 1995, ("Crime",), facets.sentences(), facets.topics(), "  A thief and\na cop. ")
    assert text == ("Heat (1995). Genres: Crime. Topics: t0, t1, t2, t3, t4, t5, t6, t7. Directed by Michael Mann. "
                    "Rated R. Runtime: 170 min. A thief and a cop.")
    assert facets.topics() == tuple(f"t{i}" for i in range(10))  # the facet keeps all ten
    assert item_text("Up", None, (), topics=("balloon",)) == "Up. Topics: balloon."


def test_a_description_column_adds_to_the_built_text(tmp_path):
    p = write(tmp_path / "films.csv", "item_id,title,year,genres,people:director,description\n"
                                      "1,Heat,1995,Crime,Michael Mann,A thief meets   his match.\n2,Up,2009,,,\n")
    heat, up = load_catalog(p).items
    assert heat.text == "Heat (1995). Genres: Crime. Directed by Michael Mann. A thief meets his match."
    assert heat.fields == {"description": "A thief meets   his match."} and up.text == "Up (2009)." and up.fields == {}


def test_tags_and_topics_columns_become_the_topic_facet_and_text(tmp_path):
    p = write(tmp_path / "books.jsonl",
              '{"item_id": "b1", "title": "Emma", "topics": "Matchmaking|Class", '
              '"tags": ["class", "Regency England"]}\n'
              '{"item_id": "b2", "title": "Dune", "tags": "Desert Planet|Politics", "description": "Spice."}\n')
    emma, dune = load_catalog(p).items
    assert emma.facets.categories == {TOPIC_FACET: ("matchmaking", "class", "regency england")}  # lower case, once each
    assert emma.text == "Emma. Topics: matchmaking, class, regency england." and emma.fields == {}
    assert dune.facets.has_category(TOPIC_FACET, "Politics")
    assert dune.text == "Dune. Topics: desert planet, politics. Spice." and dune.fields == {"description": "Spice."}


def test_an_explicit_text_still_wins_over_topics_and_description(tmp_path):
    p = write(tmp_path / "cat.csv", "item_id,title,text,tags,description\n1,Heat,A heist film.,Heist|Bank,Cops.\n")
    heat = load_catalog(p).items[0]
    assert heat.text == "A heist film."
    assert heat.facets.topics() == ("heist", "bank") and heat.fields == {"description": "Cops."}


@pytest.mark.parametrize("header, row, message", [
    ("num:pages", "320 pages", r"cat.csv:2: column 'num:pages' value '320 pages' is not a number; write one plain "
                               r"number \(e.g. 320\)"),
    ("num:pages", "300|320", r"column 'num:pages' value '300\|320' is not a number"),
    ("person:author", "Ann", r"cat.csv:1: column 'person:author': a facet column starts with one of people:"),
    ("cat:Spoken Language", "en", r"cat.csv:1: .*must be a lower-case word"),
])
def test_bad_facet_columns_and_values(tmp_path, header, row, message):
    with pytest.raises(DataError, match=message):
        load_catalog(write(tmp_path / "cat.csv", f"item_id,title,{header}\n1,A,{row}\n"))


@pytest.mark.parametrize("columns, name, noun", [
    (["people:author"], "items.csv", "book"), (["num:pages", "cat:language"], "items.csv", "book"),
    (["people:director"], "items.csv", "movie"), (["people:author", "people:director"], "items.csv", "item"),
    ([], "my_books.csv", "book"), ([], "items.csv", "item"), (["cat:language"], "films.jsonl", "movie"),
])
def test_kind_inference(columns, name, noun):
    kind, note = infer_kind(Path(name), columns)
    assert kind.noun == noun and note.startswith(f"kind {noun} (")


# --- catalog.json ----------------------------------------------------------------------------

def test_catalog_config_sets_kind_units_and_scale(tmp_path):
    write(tmp_path / "catalog.json", json.dumps({"kind": {"noun": "gadget", "verb": "buy"},
                                                 "units": {"weight": "g"}, "rating_scale": [1, 10]}))
    loaded = read_catalog(write(tmp_path / "cat.csv", "item_id,title,num:weight\n1,Phone,180\n"))
    assert loaded.catalog.kind == ItemKind("gadget", "gadgets", "buy")
    assert loaded.catalog.units == {"weight": "g"} and loaded.config.rating_scale == (1.0, 10.0)
    assert loaded.catalog.items[0].text == "Phone. Weight: 180 g."
    assert loaded.config.kind_note == f"kind gadget (from {tmp_path / 'catalog.json'})"
    write(tmp_path / "catalog.json", '{"kind": "book"}')
    assert load_catalog(tmp_path / "cat.csv").kind == BOOK


@pytest.mark.parametrize("config, message", [
    ('{"kind": "film"}', r"catalog.json: unknown kind 'film'; use one of \['book', 'item', 'movie', 'product'\]"),
    ('{"kind": {"plural": "books"}}', r'"kind" must be a name \("book"\) or an object with at least "noun"'),
    ('{"kind": {"noun": "Book!"}}', r'"kind": item kind noun must be a lower-case word'),
    ('{"units": {"pages": 3}}', r'"units" must map numeric facet names to unit words'),
    ('{"rating_scale": [5, 1]}', r'"rating_scale": rating scale 5-1 must have LOW < HIGH'),
    ('{"rating_scale": "1-5"}', r'"rating_scale" must be \[LOW, HIGH\], e.g. \[1, 5\]'),
    ('{"rating-scale": [1, 5]}', r"unknown key\(s\) \['rating-scale'\]; a catalog config has"),
    ('{"kind": "book",\n}', r"catalog.json:2: not valid JSON"),
])
def test_bad_catalog_configs(tmp_path, config, message):
    write(tmp_path / "catalog.json", config)
    with pytest.raises(DataError, match=message):
        load_catalog(write(tmp_path / "cat.csv", CATALOG))


def test_explicit_config_and_a_catalog_named_like_the_config(tmp_path):
    with pytest.raises(DataError, match="none.json: catalog config not found"):
        load_catalog(write(tmp_path / "cat.csv", CATALOG), config=tmp_path / "none.json")
    lines = '{"item_id": "1", "title": "A", "people:author": "Ann"}\n{"item_id": "2", "title": "B"}\n'
    assert load_catalog(write(tmp_path / "catalog.json", lines)).kind == BOOK  # a JSONL catalog, not its config


def test_units_for_a_missing_column_give_a_notice(tmp_path):
    write(tmp_path / "catalog.json", '{"units": {"weight": "g"}}')
    loaded = read_catalog(write(tmp_path / "cat.csv", CATALOG))
    assert loaded.notices == (f"{tmp_path / 'catalog.json'}: units name 'weight' but the catalog has no "
                              "column num:weight",)


# --- the books fixture -----------------------------------------------------------------------

def test_books_fixture_loads_as_books():
    loaded = read_catalog(BOOKS / "books.csv")
    books = loaded.catalog
    assert loaded.notices == () and books.name == "books" and len(books) == 56
    assert books.kind.noun == "book" and books.kind.verb == "read" and "novel" in books.kind.synonyms
    assert books.units == {"pages": "pages"} and loaded.config.rating_scale == (1.0, 5.0)
    king = [b.title for b in books.items if b.facets.names("author") == ("Stephen King",)]
    assert len(king) == 8 and "The Shining" in king
    bree = books.items[books.row("b09")]
    assert bree.title.endswith("(Twilight, #3.5)") and bree.facets.numbers == {"pages": 178.0}
    assert books.items[books.row("b38")].facets.names("author") == ("Terry Pratchett", "Neil Gaiman")
    assert books.items[books.row("b46")].facets.numbers == {}  # no page count given
    twenties = {b.title: b.year for b in books.items if b.facets.has_category("setting", "1920s")}
    assert twenties["The Great Gatsby"] == 1925 and any(y > 1929 for y in twenties.values())
    languages = {b.facets.categories["language"][0] for b in books.items if "language" in b.facets.categories}
    assert languages == {"Spanish", "French", "Italian"}
    assert books.items[books.row("b55")].title == "L'\u00c9tranger"
    assert books.items[books.row("b22")].text == ("The Great Gatsby (1925). Genres: Classics, Fiction, Historical "
                                                  "Fiction. By F. Scott Fitzgerald. Setting: 1920s, New York. "
                                                  "Pages: 180 pages.")
    ratings = load_interactions(BOOKS / "ratings.csv", books, rating_scale=loaded.config.rating_scale)
    assert len(ratings) == 12 and ratings.users() == ["alice", "bob", "carol", "dan"]
    assert sorted(set(ratings.weights.tolist())) == [1.0, 2.0, 4.0, 5.0]


# --- launch.py -------------------------------------------------------------------------------

def test_launch_flags_reach_the_loaders(tmp_path, capsys):
    import launch

    args = launch.parse_args(["--catalog", str(BOOKS / "books.csv"), "--interactions", str(BOOKS / "ratings.csv")])
    assert (args.encoding, args.rating_scale, args.blank_ratings) == ("utf-8", None, "refuse")
    catalog, ratings = launch.load_data(args)
    assert catalog.kind.noun == "book" and len(ratings) == 12
    assert f"catalog books: kind book (from {BOOKS / 'catalog.json'})" in capsys.readouterr().out
    args = launch.parse_args(["--catalog", str(BOOKS / "books.csv"), "--interactions", str(BOOKS / "ratings.csv"),
                              "--rating-scale", "3-5"])  # the flag wins over catalog.json's 1-5
    with pytest.raises(DataError, match=r"ratings.csv:10: column 'rating' value '2' is outside the rating scale 3-5"):
        launch.load_data(args)
    for bad in (["--rating-scale", "five"], ["--blank-ratings", "zero"], ["--encoding", "cp1252"]):
        with pytest.raises(SystemExit):
            launch.parse_args(bad)  # bad values, or a flag for files that were not given
    assert "must look like LOW-HIGH" in capsys.readouterr().err


def test_launch_prints_a_bad_file_without_a_traceback(tmp_path, capsys):
    import launch

    cat = write(tmp_path / "cat.csv", "item_id;title;genres\nm1;Caf\u00e9;Comedy, Drama\nm2;B;War, Drama\n", "cp1252")
    inter = write(tmp_path / "r.csv", "user_id,item_id,rating\nu1,m1,4\n")
    argv = ["--catalog", str(cat), "--interactions", str(inter), "--build-only"]
    assert launch.main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {cat}:2: bytes b'\\xe9' are not valid utf-8" in err and "Traceback" not in err
    args = launch.parse_args([*argv, "--encoding", "cp1252"])
    catalog, _ = launch.load_data(args)
    out, err = capsys.readouterr()
    assert catalog.items[0].title == "Caf\u00e9" and "catalog cat: kind item (nothing in the columns" in out
    assert f"warning: {cat}: column 'genres' is split on '|' only" in err
