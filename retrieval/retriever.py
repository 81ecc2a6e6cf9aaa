"""Text retrieval: a multi-turn query -> the catalog rows closest to it.

The query vector is the weighted mean of the turn embeddings (later turns weigh more,
as the bot decides), re-normalised; FAISS returns the top-n rows by cosine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.artifacts import check_manifest, write_manifest
from retrieval.encoder import Encoder
from retrieval.index import FaissIndex, IndexConfig
from retrieval.records import Candidates, Catalog

KIND = "text-index"


class Retriever:
    """`encoder` embedded the items (and names them in the manifest); `query_encoder`
    (default: the same) embeds what people say. The two may differ only in how they run
    the same weights, e.g. float32 items and an int8 copy for the chat's turns."""

    def __init__(self, catalog: Catalog, encoder: Encoder, item_vectors: np.ndarray, index: FaissIndex,
                 query_encoder: Encoder | None = None) -> None:
        if item_vectors.shape[0] != len(catalog) or len(index) != len(catalog):
            raise ValueError("item vectors / index do not match the catalog size")
        self.catalog = catalog
        self.encoder = encoder
        self.query_encoder = query_encoder or encoder
        self.item_vectors = item_vectors  # float32 (n_items, dim), unit rows
        self.index = index
        if index.vectors is None:  # exact search over a few filtered rows reads them
            index.vectors = item_vectors

    @classmethod
    def build(cls, catalog: Catalog, encoder: Encoder, config: IndexConfig = IndexConfig(),
              progress: bool = False) -> "Retriever":
        vectors = encoder.encode(catalog.texts(), progress=progress)
        return cls(catalog, encoder, vectors, FaissIndex.build(vectors, config))

    def with_query_encoder(self, query_encoder: Encoder) -> "Retriever":
        """The same items, vectors and index; queries embedded by `query_encoder`."""
        return Retriever(self.catalog, self.encoder, self.item_vectors, self.index, query_encoder)

    def query_vector(self, texts: Sequence[str], weights: np.ndarray | None = None) -> np.ndarray:
        """(dim,) float32 unit vector: weighted mean of the texts' embeddings."""
        if not texts:
            raise ValueError("a query needs at least one text")
        return self.combine(self.query_encoder.encode(list(texts)), weights)

    @staticmethod
    def combine(embeddings: "np.ndarray | Sequence[np.ndarray]", weights: np.ndarray | None = None) -> np.ndarray:
        """(dim,) float32 unit vector: the weighted mean of (n, dim) embeddings."""
        emb = np.asarray(embeddings, np.float32)
        w = np.ones(len(emb), dtype=np.float32) if weights is None else np.asarray(weights, np.float32)
        v = (w[:, None] * emb).sum(0)
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)

    def search(self, texts: Sequence[str], n: int, weights: np.ndarray | None = None) -> Candidates:
        scores, rows = self.index.search(self.query_vector(texts, weights)[None, :], n)
        keep = rows[0] >= 0  # FAISS pads with -1 when fewer results exist
        return Candidates(rows[0][keep], scores[0][keep].astype(np.float32))

    # --- artifacts -------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "item_vectors.npy", self.item_vectors)
        self.index.save(folder / "index.faiss")
        write_manifest(folder, KIND, {"catalog": self.catalog.fingerprint()},
                       {"encoder": self.encoder.describe(), "index": self.index.describe()})

    @classmethod
    def load(cls, folder: Path, catalog: Catalog, encoder: Encoder,
             config: IndexConfig = IndexConfig()) -> "Retriever":
        manifest = check_manifest(folder, KIND, {"catalog": catalog.fingerprint()},
                                  expected={"encoder": encoder.describe()})
        vectors = np.load(folder / "item_vectors.npy", allow_pickle=False)
        stats = {k: v for k, v in manifest.get("config", {}).get("index", {}).items()
                 if k in ("factory", "recall_at_10", "recall_queries", "build_s")}
        return cls(catalog, encoder, vectors, FaissIndex.load(folder / "index.faiss", config, vectors, stats))
