"""Facet records (retrieval/facets.py) and facet filters on the pipeline, with known answers."""

import pytest

from retrieval.facets import MOVIE, Facets, ItemKind, facet_column, format_number
from retrieval.loaders import item_text
from retrieval.records import FacetFilter

NOLAN = Facets(people={"director": ("Christopher Nolan",), "cast": ("Christian Bale", "Hugh Jackman")},
               numbers={"runtime": 130.0}, categories={"mpaa": ("PG-13",)})


def test_facets_read_in_the_item_text():
    text = item_text("The Prestige", 2006, ("Drama",), NOLAN.sentences())
    assert text == ("The Prestige (2006). Genres: Drama. Directed by Christopher Nolan. Starring Christian Bale, "
                    "Hugh Jackman. Rated PG-13. Runtime: 130 min.")


def test_people_lookups_fold_case():
    assert NOLAN.names() == ("Christopher Nolan", "Christian Bale", "Hugh Jackman")
    assert NOLAN.roles_of("christopher nolan") == ("director",)
    assert NOLAN.has_category("mpaa", "pg-13") and not NOLAN.has_category("mpaa", "R")
    assert not Facets() and NOLAN


@pytest.mark.parametrize("f, keeps_nolan, keeps_bare", [
    (FacetFilter("people", "director", ("christopher nolan",)), True, False),
    (FacetFilter("people", "", ("Hugh Jackman",)), True, False),
    (FacetFilter("people", "director", ("Hugh Jackman",)), False, False),
    (FacetFilter("people", "", ("Adam Sandler",), negate=True), True, True),
    (FacetFilter("num", "runtime", high=120), False, False),
    (FacetFilter("num", "runtime", low=120, high=140), True, False),
    (FacetFilter("cat", "mpaa", ("R",), negate=True), True, True),
    (FacetFilter("num", "runtime", high=120, unknown_passes=True), False, True),  # the bot's fill
])
def test_filters_keep_what_they_name_and_unknowns_only_when_negated(f, keeps_nolan, keeps_bare):
    assert f.keeps(NOLAN) is keeps_nolan
    assert f.keeps(Facets()) is keeps_bare


def test_bad_filters_and_columns_are_refused():
    with pytest.raises(ValueError, match="needs low or high"):
        FacetFilter("num", "runtime")
    with pytest.raises(ValueError, match="kind"):
        FacetFilter("colour", "x", ("red",))
    with pytest.raises(ValueError, match="plain numeric"):
        FacetFilter("num", "runtime", high=120, negate=True, unknown_passes=True)
    with pytest.raises(ValueError, match="plain numeric"):
        FacetFilter("cat", "mpaa", ("R",), unknown_passes=True)
    assert facet_column("people:Director") == ("people", "director")
    assert facet_column("title") is None
    with pytest.raises(ValueError, match="people:, num:, cat:"):
        facet_column("person:director")
    with pytest.raises(ValueError, match="lower-case word"):
        facet_column("num:run time")


def test_item_kinds_name_their_items():
    assert {"movie", "movies", "film", "films"} <= MOVIE.words()
    assert format_number(94.0, "min") == "94 min" and format_number(4.5) == "4.5"
    with pytest.raises(ValueError):
        ItemKind("Book!", "books", "read")


def test_pipeline_applies_facet_filters(tiny_catalog, checkerboard, hashing_encoder):
    from dataclasses import replace

    from fusion.cf import ItemKNN
    from fusion.config import PipelineConfig
    from fusion.recommender import Recommender
    from retrieval.records import Catalog, Query
    from retrieval.retriever import Retriever

    items = list(tiny_catalog.items)
    items[3] = replace(items[3], facets=NOLAN)
    catalog = Catalog(tiny_catalog.name, tuple(items))
    rec = Recommender(Retriever.build(catalog, hashing_encoder), ItemKNN.fit(checkerboard, len(catalog)),
                      PipelineConfig(n_candidates=5))
    nolan = FacetFilter("people", "director", ("Christopher Nolan",))
    assert [r.item.item_id for r in rec.recommend(Query(texts=("war",), facet_filters=(nolan,)))] == [items[3].item_id]
    others = rec.recommend(Query(texts=("war",), facet_filters=(replace(nolan, negate=True),)))
    assert items[3].item_id not in {r.item.item_id for r in others} and len(others) == 5  # the pool size


def test_item_text_keeps_a_few_names_per_role_and_the_facet_all():
    cast = Facets(people={"cast": ("A", "B", "C", "D", "E", "F")}, numbers={"runtime": 90.0})
    assert cast.sentences(max_names=2) == [("Starring", ("A", "B")), ("Runtime:", ("90 min",))]
    assert cast.sentences()[0] == ("Starring", ("A", "B", "C", "D", "E", "F")) and len(cast.names()) == 6


def test_display_titles_move_the_trailing_article():
    from retrieval.records import Item

    assert Item("p", "Prestige, The", "", 2006).display_label() == "The Prestige (2006)"
    assert Item("c", "City of Lost Children, The (Cité des enfants perdus, La)", "").display_title() == \
        "The City of Lost Children (Cité des enfants perdus, La)"
    assert Item("o", "Man Called Ove, A (En man som heter Ove)", "").display_title() == "A Man Called Ove (En man som heter Ove)"
    assert Item("h", "Heat", "", 1995).display_label() == "Heat (1995)" == Item("h", "Heat", "", 1995).label()
    assert Item("p", "Prestige, The", "", 2006).label() == "Prestige, The (2006)"  # what pipelines read stays


def test_a_kids_audience_keeps_rated_kid_films_and_unrated_ones_of_kid_genres():
    from fusion.filters import ItemFilters
    from retrieval.records import Catalog, Item, Query

    def film(i, genre, rating=None):
        facets = Facets(categories={"mpaa": (rating,)}) if rating else Facets()
        return Item(f"m{i}", f"Film {i}", "", genres=(genre,), facets=facets)

    n = 20
    rated = [film(i, "Children", "G") for i in range(n)] + [film(n + i, "Horror", "R") for i in range(n)] \
        + [film(2 * n, "Children", "PG-13"), film(2 * n + 1, "Horror", "PG")]
    unrated = [film(900, "Children"), film(901, "Horror"), film(902, "Western")]
    catalog = Catalog("kids", tuple(rated + unrated))
    index = ItemFilters(catalog)
    kept = {catalog.items[r].item_id for r in index.mask(Query(texts=("x",), audience="kids")).nonzero()[0]}
    # rated: by the rating alone, whatever the genre; unrated: by a genre whose rated films are mostly not adult
    assert kept == {f"m{i}" for i in range(n)} | {f"m{2 * n + 1}", "m900"}
    assert index.mask(Query(texts=("x",))) is None  # no audience, no filter
    unrated_only = ItemFilters(Catalog("plain", tuple(unrated)))
    assert unrated_only.mask(Query(texts=("x",), audience="kids")).all()  # nothing to judge by: every item
