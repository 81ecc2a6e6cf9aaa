"""Encode a catalog's texts in batches: in this process, or across Ray Data actors.

Encoding is the one build step whose cost grows with the catalog and parallelises
without limit (1M MiniLM texts are hours on 2 cores). `encode_texts` sends the texts
through `ray.data` `map_batches` over encoder actors (each loads its own encoder from a
picklable zero-argument `make_encoder`, e.g. `functools.partial(TransformerEncoder,
model_dir)`; CPU actors, or GPU ones with `gpus_per_actor`) when Ray is installed (the
optional `scale` extra) and asked for, and gives back the vectors in the texts' order,
the same array the in-process path gives. `build_text_folder` writes the same text/
folder and manifest either way (`Retriever.save`). Ray is imported only here and only
when used. Knows nothing of CF, fusion or chat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from retrieval.encoder import Encoder
from retrieval.index import FaissIndex, IndexConfig
from retrieval.records import Catalog
from retrieval.retriever import Retriever

BACKENDS = ("local", "ray", "auto")
RAY_MIN_TEXTS = 200_000  # "auto" uses Ray from here on: below it, starting Ray costs more than it saves
BATCH = 256  # texts per Ray batch: large enough to amortise a task, small enough to stream


def ray_available() -> bool:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


class _EncodeBatch:
    """A Ray Data actor: one encoder per actor, loaded once, encoding batch after batch."""

    def __init__(self, make_encoder: Callable[[], Encoder]) -> None:
        self.encoder = make_encoder()

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        return {"row": np.asarray(batch["row"], np.int64), "vector": self.encoder.encode(texts)}


def encode_texts(texts: Sequence[str], make_encoder: Callable[[], Encoder], backend: str = "auto",
                 batch_size: int = BATCH, actors: int = 1, gpus_per_actor: float = 0.0,
                 encoder: Encoder | None = None) -> np.ndarray:
    """float32 (len(texts), dim) vectors, row i for texts[i]. `backend` "local" encodes
    here (with `encoder` when given, else make_encoder()), "ray" through Ray Data (a local
    Ray runtime is started when none is connected), "auto" picks Ray when it is installed
    and there are at least RAY_MIN_TEXTS texts."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    use_ray = backend == "ray" or (backend == "auto" and len(texts) >= RAY_MIN_TEXTS and ray_available())
    if not use_ray:
        return (encoder or make_encoder()).encode(list(texts))
    if not ray_available():
        raise RuntimeError("backend 'ray' needs Ray Data: pip install '.[scale]' (or use backend 'local')")
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    ds = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
    done = ds.map_batches(_EncodeBatch, fn_constructor_args=(make_encoder,), batch_size=batch_size,
                          concurrency=actors, num_gpus=gpus_per_actor or None, batch_format="numpy")
    rows, vectors = [], []
    for batch in done.iter_batches(batch_format="numpy", batch_size=None):
        rows.append(batch["row"])
        vectors.append(np.stack(batch["vector"]) if batch["vector"].dtype == object else batch["vector"])
    order = np.argsort(np.concatenate(rows), kind="stable")
    out = np.concatenate(vectors)[order].astype(np.float32)
    if len(out) != len(texts):
        raise RuntimeError(f"Ray returned {len(out)} vectors for {len(texts)} texts")
    return out


def build_text_folder(catalog: Catalog, make_encoder: Callable[[], Encoder], folder: Path, backend: str = "auto",
                      config: IndexConfig = IndexConfig(), **ray_options) -> Retriever:
    """Encode the catalog (`encode_texts`), index it and save text/ as `Retriever.save`
    does: the same folder and manifest whichever backend encoded it."""
    encoder = make_encoder()
    vectors = encode_texts(catalog.texts(), make_encoder, backend, encoder=encoder, **ray_options)
    retriever = Retriever(catalog, encoder, vectors, FaissIndex.build(vectors, config))
    retriever.save(folder)
    return retriever
