"""Encoders and the FAISS index, checked against NumPy brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.encoder import HashingEncoder, TransformerEncoder
from retrieval.index import FaissIndex, IndexConfig, factory_for
from retrieval.records import Catalog, Item
from retrieval.retriever import Retriever


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


KINDS = {"flat": (IndexConfig(ann_threshold=10**9), "IndexFlatIP"),
         "ivf": (IndexConfig(ann_threshold=1), "IndexIVFFlat"),
         "hnsw": (IndexConfig(ann_threshold=1, ann="hnsw"), "IndexHNSWFlat")}


@pytest.mark.parametrize("name", list(KINDS))  # exact flat index, then the approximate ones
def test_index_matches_brute_force(name):
    rng = np.random.default_rng(0)
    items, queries = unit(rng, 500, 32), unit(rng, 5, 32)
    config, kind = KINDS[name]
    threshold = config.ann_threshold
    index = FaissIndex.build(items, config)
    assert index.kind == kind
    assert index.describe()["recall_at_10"] >= (1.0 if name == "flat" else config.recall_target)
    scores, rows = index.search(queries, 10)
    ref = np.argsort(-(queries @ items.T), axis=1)[:, :10]
    if threshold > 1:
        assert rows.tolist() == ref.tolist()
        np.testing.assert_allclose(scores, np.take_along_axis(queries @ items.T, ref, 1), rtol=1e-5)
    else:  # approximate: most of the true top 10 must be found
        recall = np.mean([len(set(r) & set(f)) / 10 for r, f in zip(rows, ref)])
        assert recall >= 0.9


def test_index_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    items = unit(rng, 50, 8)
    index = FaissIndex.build(items)
    index.save(tmp_path / "i.faiss")
    again = FaissIndex.load(tmp_path / "i.faiss")
    assert again.search(items[:3], 4)[1].tolist() == index.search(items[:3], 4)[1].tolist()
    assert index.search(items[:1], 500)[1].shape == (1, 50)  # n capped at the index size


def test_hashing_encoder_unit_norm_and_neighbours(hashing_encoder):
    v = hashing_encoder.encode(["cartoon kittens", "cartoon puppies", "dark alley crime"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_retriever_finds_obvious_neighbours(tiny_catalog, hashing_encoder):
    r = Retriever.build(tiny_catalog, hashing_encoder)
    c = r.search(["cartoon animation children"], n=3)
    assert set(c.item_rows[:2].tolist()) == {0, 1}  # the two "Cartoon ..." titles
    assert np.all(np.diff(c.text_scores) <= 1e-6)  # best first
    # turn weights: the heavier text decides
    heavy_dark = r.search(["cartoon", "crime thriller"], n=1, weights=np.array([0.1, 1.0]))
    assert tiny_catalog.items[heavy_dark.item_rows[0]].genres[0] == "Crime"


def test_retriever_artifacts_refuse_other_catalog(tmp_path, tiny_catalog, hashing_encoder):
    from retrieval.artifacts import StaleArtifactError
    from retrieval.records import Catalog

    r = Retriever.build(tiny_catalog, hashing_encoder)
    r.save(tmp_path / "text")
    again = Retriever.load(tmp_path / "text", tiny_catalog, hashing_encoder)
    np.testing.assert_array_equal(again.item_vectors, r.item_vectors)
    other = Catalog("tiny", tiny_catalog.items[:6])
    with pytest.raises(StaleArtifactError, match="built for another catalog.*--rebuild"):
        Retriever.load(tmp_path / "text", other, hashing_encoder)
    with pytest.raises(StaleArtifactError, match="another encoder"):
        Retriever.load(tmp_path / "text", tiny_catalog, HashingEncoder(dim=64))


def test_check_manifest_expected_entries_only(tmp_path):
    from retrieval.artifacts import StaleArtifactError, check_manifest, write_manifest

    write_manifest(tmp_path, "toy", {"data": "abc"}, {"recipe": {"lr": 0.1}, "seconds": 12.5})
    # the listed entries must match; the rest of the config (here: seconds) may differ
    assert check_manifest(tmp_path, "toy", {"data": "abc"}, expected={"recipe": {"lr": 0.1}})["config"]["seconds"] == 12.5
    with pytest.raises(StaleArtifactError, match="built with another recipe.*--rebuild"):
        check_manifest(tmp_path, "toy", {"data": "abc"}, expected={"recipe": {"lr": 0.2}})
    with pytest.raises(StaleArtifactError, match="built with another missing"):
        check_manifest(tmp_path, "toy", {"data": "abc"}, expected={"missing": 1})


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A tiny random BERT with a 30-word vocabulary: real transformers code, no weights."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_bert")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + \
        "cartoon kittens puppies dark alley crime funny kids movie a the for".split()
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder


def test_transformer_encoder_tiny_model(tiny_bert_dir):
    enc = TransformerEncoder(tiny_bert_dir, max_length=16)
    texts = ["cartoon kittens", "dark alley crime", "funny kids movie", "cartoon kittens"]
    v = enc.encode(texts, batch_size=2)
    assert v.shape == (4, 16) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(v[0], v[3], rtol=1e-5)  # batching/sorting must not mix rows
    single = enc.encode(["dark alley crime"])
    np.testing.assert_allclose(single[0], v[1], atol=1e-5)  # padding does not change a row
    assert enc.describe()["dim"] == 16


def test_encoder_identity_ignores_where_the_folder_is(tiny_bert_dir, tmp_path, monkeypatch):
    """A text index built with `--artifacts artifacts/movielens` must be reused by the
    default absolute path (and after the project moves): identity is the weights."""
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(tiny_bert_dir, moved)
    monkeypatch.chdir(tiny_bert_dir.parent)
    relative = TransformerEncoder(tiny_bert_dir.name, max_length=16)
    assert relative.describe() == TransformerEncoder(moved, max_length=16).describe()
    assert relative.describe() != TransformerEncoder(moved, max_length=32).describe()
    retriever = Retriever.build(Catalog("c", (Item("a", "A", "cartoon kittens"),)), relative)
    retriever.save(tmp_path / "text")
    Retriever.load(tmp_path / "text", retriever.catalog, TransformerEncoder(moved, max_length=16))  # no StaleArtifactError


def test_int8_encoder_is_close_to_float32_and_has_its_own_identity(tiny_bert_dir, tmp_path):
    """int8 query vectors are unit rows near the float32 ones of the same texts; an index
    is never served under the other precision's name (the manifest names it); a
    retriever with an int8 query encoder keeps the float32 items."""
    from retrieval.artifacts import StaleArtifactError

    full = TransformerEncoder(tiny_bert_dir, max_length=16)
    int8 = full.with_precision(True)
    assert int8.int8 and not full.int8 and full.with_precision(False) is full
    texts = ["cartoon kittens", "dark alley crime", "funny kids movie"]
    a, b = full.encode(texts), int8.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(a, b, atol=1e-6)  # the int8 weights really serve
    # one text at a time: its vector does not depend on what else was in the call
    np.testing.assert_allclose(int8.encode(texts[1:2])[0], b[1], atol=1e-6)
    assert (a * b).sum(1).min() > 0.9
    assert int8.describe() == {**full.describe(), "precision": "int8"}
    assert TransformerEncoder.described(int8.describe(), tiny_bert_dir).int8
    catalog = Catalog("c", (Item("a", "A", "cartoon kittens"), Item("b", "B", "dark alley crime")))
    retriever = Retriever.build(catalog, full)
    retriever.save(tmp_path / "text")
    with pytest.raises(StaleArtifactError):
        Retriever.load(tmp_path / "text", catalog, int8)
    heard = retriever.with_query_encoder(int8)
    assert heard.item_vectors is retriever.item_vectors and heard.encoder is full
    np.testing.assert_allclose(heard.query_vector(["dark alley crime"]), b[1], atol=1e-6)
    assert heard.search(["dark alley crime"], 1).item_rows.tolist() == [1]


def test_transformer_encoder_rejects_non_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        TransformerEncoder(tmp_path)


@pytest.mark.slow
def test_base_encoder_semantics():
    enc = TransformerEncoder()
    v = enc.encode(["a funny cartoon for children", "Toy Story (1995). Genres: Animation, Children, Comedy.",
                    "Se7en (1995). Genres: Crime, Thriller."])
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_weights_fingerprint_follows_the_weights(tmp_path):
    """A re-run fine-tune writes other weights into the same folder: the encoder's
    identity (and so every cached vector's manifest) must change with them."""
    from retrieval.encoder import weights_fingerprint

    (tmp_path / "config.json").write_text("{}")
    assert weights_fingerprint(tmp_path) == ""
    (tmp_path / "model.safetensors").write_bytes(b"first weights")
    first = weights_fingerprint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"other, longer weights")
    assert weights_fingerprint(tmp_path) not in ("", first)
    (tmp_path / "model.safetensors").write_bytes(b"first weights")
    assert weights_fingerprint(tmp_path) == first


@pytest.mark.parametrize("name", list(KINDS))
def test_search_restricted_to_some_rows(name):
    rng = np.random.default_rng(1)
    items = unit(rng, 300, 16)
    index = FaissIndex.build(items, KINDS[name][0])
    only = np.array([5, 17, 250])
    scores, rows = index.search(items[:1], 10, only)
    assert sorted(rows[0][:3].tolist()) == [5, 17, 250] and (rows[0][3:] == -1).all()
    assert rows[0][:3].tolist() == only[np.argsort(-(items[only] @ items[0]))].tolist()  # best first


def test_factory_follows_catalog_size():
    config = IndexConfig()
    assert factory_for(10_000, config) == "Flat"
    assert factory_for(1_000_000, config) == "IVF1024,Flat"
    assert factory_for(1_000_000, IndexConfig(ann="hnsw")) == "HNSW32"
    assert factory_for(10, IndexConfig(factory="HNSW16")) == "HNSW16"


@pytest.mark.parametrize("name", list(KINDS))
def test_mask_filter_equals_row_filter_and_brute_force(name):
    """The bitmap selector (a bool mask) gives what the old IDSelectorBatch of rows gave,
    and for the exact index exactly the brute-force top n among the allowed rows."""
    rng = np.random.default_rng(2)
    items = unit(rng, 2000, 16)
    index = FaissIndex.build(items, KINDS[name][0])
    mask = rng.random(2000) < 0.3
    queries = unit(rng, 4, 16)
    by_mask = index.search(queries, 20, mask)
    by_rows = index.search(queries, 20, np.flatnonzero(mask))
    assert by_mask[1].tolist() == by_rows[1].tolist()
    assert mask[by_mask[1][by_mask[1] >= 0]].all()
    if name == "flat":
        ref = np.array([np.flatnonzero(mask)[np.argsort(-(items[mask] @ q), kind="stable")[:20]] for q in queries])
        assert by_mask[1].tolist() == ref.tolist()


@pytest.mark.parametrize("exact_below", [0, 10**9])  # through the IVF selector, then exactly over the rows
def test_filtered_ann_search_keeps_recall(exact_below):
    rng = np.random.default_rng(3)
    centres = unit(rng, 50, 32)  # clustered, as item vectors are
    items = centres[rng.integers(0, 50, 5000)] + 0.3 * unit(rng, 5000, 32)
    items = (items / np.linalg.norm(items, axis=1, keepdims=True)).astype(np.float32)
    index = FaissIndex.build(items, IndexConfig(ann_threshold=1, exact_filter_below=exact_below))
    assert index.describe()["factory"].startswith("IVF")
    for share in (0.5, 0.1, 0.01):
        mask = rng.random(5000) < share
        assert index.filtered_recall(items, mask, queries=50) >= 0.9, share
    # a filter that follows the neighbourhoods (as a year range does): whole clusters left out
    centre = rng.integers(0, 50, 5000)
    items = centres[centre] + 0.3 * unit(rng, 5000, 32)
    items = (items / np.linalg.norm(items, axis=1, keepdims=True)).astype(np.float32)
    index = FaissIndex.build(items, IndexConfig(ann_threshold=1, exact_filter_below=exact_below))
    for share in (0.5, 0.2):
        mask = np.isin(centre, rng.choice(50, int(50 * share), replace=False))
        assert index.filtered_recall(items, mask, queries=50) >= 0.9, share


def test_manifest_records_factory_and_recall(tmp_path, tiny_catalog, hashing_encoder):
    r = Retriever.build(tiny_catalog, hashing_encoder, IndexConfig(ann_threshold=1))
    r.save(tmp_path)
    described = json.loads((tmp_path / "manifest.json").read_text())["config"]["index"]
    assert described["factory"].startswith("IVF") and 0.0 < described["recall_at_10"] <= 1.0
    again = Retriever.load(tmp_path, tiny_catalog, hashing_encoder)
    assert again.index.describe()["nprobe"] == described["nprobe"]
    assert again.index.describe()["recall_at_10"] == described["recall_at_10"]
    q = again.item_vectors[:2]
    assert again.index.search(q, 5)[1].tolist() == r.index.search(q, 5)[1].tolist()
