"""Interactions learned from the bot's own logs, stored in an artifact folder beside the rest.

`python -m bot.offline.learn` writes a new artifact folder whose CF model was fitted on the
catalog's interactions *plus* those learned from logged sessions; the learned ones are
kept in `<folder>/learned/interactions.npz`, so that loading the folder (fusion/build.py)
appends them again and the CF model's fingerprint matches without the logbook. A folder
without `learned/` is a plain build: nothing is appended.

Knows nothing of the logbook, chat or sessions: arrays in, arrays out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.artifacts import check_manifest, write_manifest
from retrieval.records import Catalog, Interactions

LEARNED_DIR = "learned"  # sub-folder of an artifact folder
KIND = "learned-log"


def save_learned(folder: Path, catalog: Catalog, learned: Interactions, config: dict) -> None:
    """Write the learned interactions to `folder/learned/` (arrays, no pickle) with a
    manifest holding `config` (where they came from, how many sessions, ...)."""
    out = folder / LEARNED_DIR
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "interactions.npz", user_ids=np.array([str(u) for u in learned.user_ids], dtype=np.str_),
             item_rows=learned.item_rows.astype(np.int64), weights=learned.weights.astype(np.float32),
             timestamps=learned.timestamps.astype(np.int64))
    write_manifest(out, KIND, {"catalog": catalog.fingerprint(), "learned": learned.fingerprint()}, config)


def load_learned(folder: Path, catalog: Catalog) -> Interactions | None:
    """The interactions learned into `folder` (None when it has none); StaleArtifactError
    when they were learned for another catalog or their file changed."""
    part = folder / LEARNED_DIR
    if not (part / "manifest.json").exists():
        return None
    manifest = check_manifest(part, KIND, {"catalog": catalog.fingerprint()})
    with np.load(part / "interactions.npz", allow_pickle=False) as z:
        learned = Interactions(z["user_ids"].astype(object), z["item_rows"], z["weights"], z["timestamps"])
    if learned.fingerprint() != manifest["fingerprints"].get("learned"):
        from retrieval.artifacts import StaleArtifactError

        raise StaleArtifactError(f"{part}: the learned interactions differ from their manifest; "
                                 "rerun python -m bot.offline.learn into a new folder")
    return learned


def append(base: Interactions, more: Interactions) -> Interactions:
    """`base` then `more`, as one log."""
    if len(more) == 0:
        return base
    return Interactions(np.concatenate([base.user_ids.astype(object), more.user_ids.astype(object)]),
                        np.concatenate([base.item_rows, more.item_rows]).astype(np.int64),
                        np.concatenate([base.weights, more.weights]).astype(np.float32),
                        np.concatenate([base.timestamps, more.timestamps]).astype(np.int64))


def with_learned(folder: Path, catalog: Catalog, interactions: Interactions) -> Interactions:
    """The interactions CF is fitted on for `folder`: `interactions`, plus the learned ones
    when the folder was written by `python -m bot.offline.learn`."""
    learned = load_learned(folder, catalog)
    return interactions if learned is None else append(interactions, learned)
