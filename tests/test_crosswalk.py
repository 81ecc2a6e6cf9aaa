"""retrieval/crosswalk.py: linking catalogs by title and year, and borrowed likes."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.crosswalk import borrowed_genres, liked_baskets, link_rows
from retrieval.titles import title_key
from retrieval.records import Catalog, Interactions, Item


def catalog(name: str, movies: list[tuple[str, int | None]]) -> Catalog:
    return Catalog(name, tuple(Item(f"{name}{i}", t, t, y) for i, (t, y) in enumerate(movies)))


@pytest.mark.parametrize("a, b", [
    (("Matrix, The", 1999), ("The Matrix", 1999)),
    (("Amelie (Fabuleux destin d'Amélie Poulain, Le)", 2001), ("Amelie", 2001)),
    (("Fast & Furious", 2009), ("Fast and Furious", 2009)),
    (("Hoodwinked!", 2005), ("hoodwinked", 2005)),
    (("Few Good Men, A", 1992), ("A Few Good Men", 1992)),
    # the title linker's form (retrieval/titles.py): accents, foreign articles, other signs
    (("Misérables, Les", 2012), ("Les Misérables", 2012)),
    (("Amelie (Fabuleux destin d'Amélie Poulain, Le)", 2001), ("Amélie", 2001)),
    (("My Dinner with André", 1981), ("My Dinner with Andre", 1981)),
    (("WALL·E", 2008), ("WALL-E", 2008)),
])
def test_same_movie_same_key(a, b):
    assert title_key(*a) == title_key(*b)


@pytest.mark.parametrize("a, b", [
    (("The Matrix", 1999), ("The Matrix Reloaded", 2003)),
    (("Dune", 1984), ("Dune", 2021)),  # a remake is another movie
    (("Them", 1954), ("The M", 1954)),  # articles are whole words only
])
def test_different_movies_different_keys(a, b):
    assert title_key(*a) != title_key(*b)


def test_link_rows_known_answer():
    source = catalog("ml", [("Matrix, The", 1999), ("Dune", 1984), ("No Year", None), ("Solo", 2018),
                            ("Matrix, The", 1999)])
    target = catalog("rd", [("Dune", 2021), ("The Matrix", 1999), ("No Year", None), ("Dune", 1984)])
    # source 0 -> target 1; Dune 1984 -> target 3 (not the 2021 remake); no year never
    # links; Solo has no partner; the duplicate Matrix row cannot take target 1 again
    assert link_rows(source, target) == {0: 1, 1: 3}


def test_borrowed_genres_follow_the_links():
    source = Catalog("ml", (Item("m0", "Matrix, The", "", 1999, ("Action", "Sci-Fi")),
                            Item("m1", "Dune", "", 1984, ()),  # linked, but no genres to lend
                            Item("m2", "Solo", "", 2018, ("Action",))))  # not linked
    target = catalog("rd", [("Dune", 1984), ("The Matrix", 1999)])
    links = link_rows(source, target)
    assert links == {0: 1, 1: 0}
    assert borrowed_genres(source, target, links) == {"rd1": ("Action", "Sci-Fi")}


def test_liked_baskets_keep_linked_likes_of_each_user():
    inter = Interactions(np.array(["u1", "u1", "u1", "u2", "u2", "u3", "u3"], dtype=object),
                         np.array([0, 1, 2, 0, 1, 0, 1], np.int64),
                         np.array([5.0, 4.0, 5.0, 5.0, 2.0, 4.5, 4.0], np.float32),
                         np.zeros(7, np.int64))
    links = {0: 10, 1: 11}  # source row 2 has no partner
    # u1: rows 0, 1 liked (row 2 unlinked); u2: only row 0 liked -> dropped; u3: both
    assert liked_baskets(inter, links, min_rating=4.0) == [[10, 11], [10, 11]]


@pytest.mark.slow  # real data (a few seconds)
def test_movielens_ratings_become_redial_cf():
    from retrieval.redial import default_data_dir, load_catalog

    if not (default_data_dir() / "movies_with_mentions.csv").exists():
        pytest.skip(f"ReDial data not found at {default_data_dir()} (absent on fresh clones)")
    from fusion.conversations import fit_linked_ratings
    from retrieval.movielens import load_movielens

    redial = load_catalog()
    movielens, ratings = load_movielens()
    links = link_rows(movielens, redial)
    assert len(links) > 3000  # of 9,061 MovieLens and 6,924 ReDial movies
    matrix = [r for r, it in enumerate(redial.items) if it.label() == "The Matrix (1999)"][0]
    assert matrix in links.values()
    model = fit_linked_ratings(redial, movielens, ratings)
    assert model.sim.shape == (len(redial), len(redial))
    assert model.sim[matrix].nnz > 100 and (abs(model.sim - model.sim.T) > 1e-6).nnz == 0
    # the benchmark's catalog: the same movies, with MovieLens genres in the item texts
    from retrieval.redial import load_catalog_with_genres

    with_genres = load_catalog_with_genres()
    assert [it.item_id for it in with_genres.items] == [it.item_id for it in redial.items]
    assert with_genres.items[matrix].genres == ("Action", "Science fiction", "Thriller")
    assert with_genres.items[matrix].text.startswith("The Matrix (1999). Genres: Action, Science fiction, Thriller.")
    assert sum(bool(it.genres) for it in with_genres.items) > 3000
