"""Encoding through Ray Data gives the vectors, folder and manifest of the in-process path
(issue 18, item 3). Needs Ray (the optional `scale` extra): skipped without it."""

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
