"""Artifact integrity: manifests record every file's sha256; a changed, truncated or missing
file, or an unreadable manifest, is a clean "rebuild" error at load, never a traceback or
silently different picks. Old manifests without hashes still load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fusion.build import load_or_build
from retrieval.artifacts import StaleArtifactError, read_manifest, verify_files, verify_tree
from retrieval.retriever import Retriever


@pytest.fixture
def built(tmp_path, tiny_catalog, checkerboard, hashing_encoder):
    folder = tmp_path / "art"
    load_or_build(tiny_catalog, checkerboard, hashing_encoder, folder, progress=False)
    return folder


def load(folder, tiny_catalog, checkerboard, hashing_encoder):
    return load_or_build(tiny_catalog, checkerboard, hashing_encoder, folder, progress=False)


def test_a_build_for_another_catalog_is_rebuilt_not_refused(built, tiny_catalog, checkerboard, hashing_encoder,
                                                            capsys):
    """After the catalog changes (an upgrade that drops or renames items), the next build
    makes the vectors, the tuned config and CF anew and says why, instead of stopping with
    "delete the folder"; a damaged folder is still refused (test above)."""
    from dataclasses import replace

    from retrieval.records import Catalog

    first = tiny_catalog.items[0]
    renamed = Catalog(tiny_catalog.name, (replace(first, title=first.title + " Redux",
                                                  text=first.text.replace(first.title, first.title + " Redux")),
                                          *tiny_catalog.items[1:]), kind=tiny_catalog.kind)
    with pytest.raises(StaleArtifactError, match="built for another catalog"):
        Retriever.load(built / "text", renamed, hashing_encoder)
    rec, report = load_or_build(renamed, checkerboard, hashing_encoder, built, progress=True)
    assert "rebuilding:" in capsys.readouterr().out and {"text", "cf"} <= set(report.built)
    assert rec.catalog is renamed and Retriever.load(built / "text", renamed, hashing_encoder) is not None
    assert load_or_build(renamed, checkerboard, hashing_encoder, built, progress=False)[1].built == ()


def test_manifests_record_every_file(built):
    files = read_manifest(built / "text")["files"]
    assert set(files) == {"item_vectors.npy", "index.faiss"}
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in files.values())
    assert verify_files(built / "text") == 2
    parts = dict(verify_tree(built))
    assert parts.pop(built) == 0  # the build record vouches for no files of its own
    assert parts and all(n is not None and n >= 1 for n in parts.values())


@pytest.mark.parametrize("name, damage", [
    ("item_vectors.npy", "random"), ("index.faiss", "zeros"), ("item_vectors.npy", "truncate"),
    ("index.faiss", "delete"),
])
def test_damaged_files_are_refused(built, tiny_catalog, checkerboard, hashing_encoder, name, damage):
    path = built / "text" / name
    data = bytearray(path.read_bytes())
    if damage == "random":  # same size, other bytes after the header
        data[200:] = np.random.default_rng(0).integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(data))
    elif damage == "zeros":
        data[100:164] = bytes(64)
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        path.unlink()
    with pytest.raises(StaleArtifactError, match="--rebuild"):
        load(built, tiny_catalog, checkerboard, hashing_encoder)


@pytest.mark.parametrize("text", ["", "{not json", "[]", "\udcff"])
def test_unreadable_manifests_are_the_same_clean_error(built, tiny_catalog, checkerboard, hashing_encoder, text):
    path = built / "text" / "manifest.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(StaleArtifactError, match="--rebuild"):
        load(built, tiny_catalog, checkerboard, hashing_encoder)


def test_manifests_without_hashes_still_load(built, tiny_catalog, hashing_encoder):
    path = built / "text" / "manifest.json"
    old = json.loads(path.read_text())
    del old["files"]
    path.write_text(json.dumps(old))
    assert Retriever.load(built / "text", tiny_catalog, hashing_encoder) is not None
    assert dict(verify_tree(built))[built / "text"] is None  # reported as "not recorded"


def test_large_files_are_left_to_verify(built):
    path = built / "text" / "index.faiss"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert verify_files(built / "text", max_bytes=10) == 0  # both files are "large" here: skipped
    with pytest.raises(StaleArtifactError, match="changed since it was built"):
        verify_files(built / "text", max_bytes=None)


def test_launch_refuses_damaged_artifacts_cleanly(tmp_path, tiny_model, tiny_catalog, checkerboard, capsys):
    """launch.py on a damaged artifact folder: exit 2 with the rebuild message, no traceback."""
    import launch

    cat, inter = tmp_path / "cat.csv", tmp_path / "inter.csv"
    cat.write_text("item_id,title,year,genres\n" + "".join(
        f"{it.item_id},{it.title},{it.year},{'|'.join(it.genres)}\n" for it in tiny_catalog.items))
    inter.write_text("user_id,item_id,rating,timestamp\n" + "".join(
        f"{u},{tiny_catalog.items[r].item_id},{w},{t}\n" for u, r, w, t in
        zip(checkerboard.user_ids, checkerboard.item_rows, checkerboard.weights, checkerboard.timestamps)))
    art = tmp_path / "art"
    argv = ["--catalog", str(cat), "--interactions", str(inter), "--artifacts", str(art), "--encoder",
            str(tiny_model), "--no-finetune", "--no-tune", "--build-only"]
    assert launch.main(argv) == 0
    assert launch.main([*argv, "--verify"]) == 0
    assert "files match their sha256" in capsys.readouterr().out
    vectors = art / "text" / "item_vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-8:] = bytes(8)
    vectors.write_bytes(bytes(data))
    assert launch.main(argv) == 2
    err = capsys.readouterr().err
    assert "item_vectors.npy changed since it was built" in err and "--rebuild" in err
    assert "Traceback" not in err
    (art / "text" / "manifest.json").write_text("")
    assert launch.main(argv) == 2
    assert "unreadable" in capsys.readouterr().err
