"""Encoding through Ray Data gives the vectors, folder and manifest of the in-process path
(issue 18, item 3). Needs Ray (the optional `scale` extra): skipped without it; marked slow
(its local Ray runtime: 38 s in one full run here, on 2 shared cores). The build's hand-off to
Ray (last test) runs in the default suite with a stand-in for Ray."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from retrieval.batch_encode import build_text_folder, encode_texts
from retrieval.encoder import HashingEncoder
from retrieval.retriever import Retriever


def test_local_backend_is_the_encoder_itself(tiny_catalog):
    make = functools.partial(HashingEncoder, dim=64)
    texts = tiny_catalog.texts()
    assert np.array_equal(encode_texts(texts, make, "local"), HashingEncoder(dim=64).encode(texts))
    assert np.array_equal(encode_texts(texts, make, "auto"), HashingEncoder(dim=64).encode(texts))  # few texts: local
    with pytest.raises(ValueError, match="backend"):
        encode_texts(texts, make, "spark")


@pytest.mark.slow
def test_ray_data_gives_the_same_vectors_folder_and_manifest(tiny_catalog, tmp_path):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    make = functools.partial(HashingEncoder, dim=64)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        texts = tiny_catalog.texts() * 5  # 60 texts in batches of 7: order must survive the shuffle of blocks
        vectors = encode_texts(texts, make, "ray", batch_size=7, actors=1)
        assert np.array_equal(vectors, HashingEncoder(dim=64).encode(texts))
        build_text_folder(tiny_catalog, make, tmp_path / "ray", backend="ray", batch_size=5)
    finally:
        ray.shutdown()
    build_text_folder(tiny_catalog, make, tmp_path / "local", backend="local")
    a, b = (np.load(tmp_path / d / "item_vectors.npy") for d in ("ray", "local"))
    assert np.array_equal(a, b)

    def manifest(d):
        m = json.loads((tmp_path / d / "manifest.json").read_text())
        m["config"]["index"].pop("build_s")  # seconds differ, nothing else may
        m.pop("created", None)
        return m
    assert manifest("ray")["config"] == manifest("local")["config"]
    again = Retriever.load(tmp_path / "ray", tiny_catalog, HashingEncoder(dim=64))
    assert np.array_equal(again.item_vectors, b)


def test_the_build_encodes_a_large_catalog_through_ray_when_it_is_installed(tiny_catalog, checkerboard, tiny_model,
                                                                             tmp_path, monkeypatch):
    """fusion/build.py hands the encoding to Ray Data from RAY_MIN_TEXTS texts on (here 1,
    with Ray's map_batches replaced by a recording stand-in: Ray is an optional extra), and
    the text/ folder is the one an in-process build writes."""
    from fusion.build import load_or_build
    from retrieval import batch_encode
    from retrieval.encoder import TransformerEncoder

    local, _ = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model), tmp_path / "local",
                             progress=False)
    calls = []

    def stand_in(texts, make_encoder, backend="auto", encoder=None, **options):
        calls.append(backend)
        return make_encoder().encode(list(texts))  # what each Ray actor does, in one process

    monkeypatch.setattr(batch_encode, "RAY_MIN_TEXTS", 1)
    monkeypatch.setattr(batch_encode, "ray_available", lambda: True)
    monkeypatch.setattr(batch_encode, "encode_texts", stand_in)
    ray_built, _ = load_or_build(tiny_catalog, checkerboard, TransformerEncoder(tiny_model), tmp_path / "ray",
                                 progress=False)
    assert calls == ["ray"]
    assert np.allclose(ray_built.retriever.item_vectors, local.retriever.item_vectors, atol=1e-6)
    have = {k: v for k, v in json.loads((tmp_path / "ray" / "text" / "manifest.json").read_text())["config"].items()}
    want = {k: v for k, v in json.loads((tmp_path / "local" / "text" / "manifest.json").read_text())["config"].items()}
    assert have == want
