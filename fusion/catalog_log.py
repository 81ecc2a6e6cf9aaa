"""The log of live catalog updates in an artifact folder, so a restart serves what was served.

Layout, under `<folder>/catalog_updates/`:
- `NNNN.jsonl`: change N's rows as the loader read them, one JSON object per item (a
  JSONL catalog file: the same loader reads it back, with the same checks);
- `NNNN.npy`: their vectors, float32 (rows, dim), as the item encoder made them, so a
  restart embeds nothing (they are made again when the folder's encoder changed);
- `manifest.json` (retrieval/artifacts.py, kind "catalog-updates"): the base catalog's
  fingerprint, and per change its number, files, ids withdrawn, the catalog fingerprint
  after it, the encoder and the time; sha256 and size of every file.

A change is written file by file (temporary name, then os.replace), the manifest last:
the manifest is the commit point. Files of a change the manifest does not name (a crash
before it) are never read, and are replaced by the next change. `replay` applies every
recorded change to the pipeline built for the base catalog (fusion/build.py
`load_or_build`), in order, checking each file's hash and each fingerprint on the way.

What this module does NOT know: HTTP, sessions, bots.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from fusion.catalog_update import CatalogChange, UpdateReport, apply_change, read_change
from fusion.recommender import Recommender
from retrieval.artifacts import FIX, StaleArtifactError, jsonable, read_manifest, sha256_file, write_manifest
from retrieval.records import Catalog

UPDATES = "catalog_updates"
KIND = "catalog-updates"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def recorded(folder: Path) -> list[dict]:
    """The changes recorded in `folder` (an artifact folder), oldest first; [] when none."""
    log = folder / UPDATES
    if not (log / "manifest.json").exists():
        return []
    return list(read_manifest(log).get("config", {}).get("changes", []))


def record(folder: Path, before: Catalog, change: CatalogChange, vectors: np.ndarray,
           report: UpdateReport, encoder: dict) -> int:
    """Write `change` (its rows, `vectors`, the ids it withdraws), made to the catalog
    `before`, as the next change of `folder`'s log; its number. `before` must be the
    catalog the log leads to (the base the folder was built for, when the log is empty)."""
    import json

    log = folder / UPDATES
    changes = recorded(folder)
    if changes:
        base = read_manifest(log).get("fingerprints", {}).get("base")
        if changes[-1].get("catalog") != before.fingerprint():
            raise StaleArtifactError(f"{log} records changes that lead to another catalog than the one served; "
                                     "restart the server to serve what it records")
    else:
        base = before.fingerprint()
    log.mkdir(parents=True, exist_ok=True)
    number = len(changes) + 1
    stem = f"{number:04d}"
    for stale in log.iterdir():  # files of a change that was never committed
        if stale.name.split(".")[0].isdigit() and int(stale.name.split(".")[0]) >= number:
            stale.unlink()
    if change.items:
        _write_atomic(log / f"{stem}.jsonl", "".join(json.dumps(dict(r), ensure_ascii=False) + "\n"
                                                     for r in change.records).encode("utf-8"))
        tmp = log / f"{stem}.npy.tmp"
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(vectors, np.float32), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, log / f"{stem}.npy")
    entry = {"number": number, "rows": f"{stem}.jsonl" if change.items else None,
             "vectors": f"{stem}.npy" if change.items else None, "remove": list(change.remove_ids),
             "added": list(report.added), "updated": list(report.updated), "removed": list(report.removed),
             "catalog": report.catalog, "encoder": jsonable(encoder),
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_manifest(log, KIND, {"base": base}, {"changes": [*changes, entry]})
    return number


def replay(folder: Path, recommender: Recommender, progress: bool = False) -> tuple[Recommender, int]:
    """(`recommender`, built for the base catalog, with every change recorded in `folder`
    applied in order; the number applied). Refused (StaleArtifactError) when the log was
    written over another base catalog, a file changed, or a change leads to another
    catalog than it recorded."""
    changes = recorded(folder)
    if not changes:
        return recommender, 0
    log = folder / UPDATES
    manifest = read_manifest(log)
    base = manifest.get("fingerprints", {}).get("base")
    if base != recommender.catalog.fingerprint():
        raise StaleArtifactError(f"{log} records changes to another catalog than the one served now (built "
                                 f"for {str(base)[:12]}…, now {recommender.catalog.fingerprint()[:12]}…); move "
                                 "it aside, or serve the catalog it was recorded over")
    files = manifest.get("files", {})
    encoder = jsonable(recommender.retriever.encoder.describe())
    t0 = time.perf_counter()
    for entry in changes:
        for name in (entry.get("rows"), entry.get("vectors")):
            if name and (not (log / name).is_file() or sha256_file(log / name) != files.get(name, {}).get("sha256")):
                raise StaleArtifactError(f"{log}: {name} is missing or changed since it was recorded; {FIX}")
        rows = log / entry["rows"] if entry.get("rows") else None
        change = read_change(recommender.catalog, rows, entry.get("remove", []))
        vectors = None
        if rows is not None and entry.get("encoder") == encoder:  # else embedded again by this encoder
            vectors = np.load(log / entry["vectors"], allow_pickle=False)
        recommender, report, _ = apply_change(recommender, change, vectors)
        if report.catalog != entry.get("catalog"):
            raise StaleArtifactError(f"{log}: change {entry.get('number')} leads to another catalog than it "
                                     f"recorded; {FIX}")
    if progress:
        print(f"catalog updates: {len(changes)} replayed from {log} in {time.perf_counter() - t0:.1f} s "
              f"({len(recommender.catalog):,} items)", flush=True)
    return recommender, len(changes)
