"""Artifact folders: what was built, from which catalog, with which libraries.

Every artifact folder has a `manifest.json` with a format version, library versions, the
configs used and the fingerprint of the catalog (and interactions) it was built from.
`check_manifest` refuses a folder built for other data, naming the flag that rebuilds it.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
LIBRARIES = ("torch", "transformers", "faiss-cpu", "implicit", "numpy", "scipy")


class StaleArtifactError(RuntimeError):
    """An artifact folder that does not match the data or code it is loaded for."""


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """`d` as it reads back from a manifest (tuples become lists, keys strings), so a
    config can be compared with the one stored."""
    return json.loads(json.dumps(d))


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def write_manifest(folder: Path, kind: str, fingerprints: dict[str, str], config: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "libraries": library_versions(),
        "fingerprints": fingerprints,
        "config": config,
    }
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(folder / "manifest.json")  # atomic: a half-written manifest never exists


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.exists():
        raise StaleArtifactError(f"{folder}: no manifest.json; it is not a built artifact folder")
    return json.loads(path.read_text())


def check_manifest(folder: Path, kind: str, fingerprints: dict[str, str],
                   config: dict[str, Any] | None = None,
                   expected: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the manifest if it was built by this format for these data (and config),
    else raise StaleArtifactError saying why and how to rebuild. `expected`: entries of
    the manifest's config that must hold these values (the rest of it may differ)."""
    manifest = read_manifest(folder)
    fix = "delete the folder or run launch.py with --rebuild"
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("kind") != kind:
        raise StaleArtifactError(f"{folder}: built as {manifest.get('kind')!r} format "
                                 f"{manifest.get('format_version')}, expected {kind!r} format "
                                 f"{FORMAT_VERSION}; {fix}")
    for name, want in fingerprints.items():
        have = manifest.get("fingerprints", {}).get(name)
        if have != want:
            raise StaleArtifactError(f"{folder}: built for another {name} "
                                     f"(fingerprint {str(have)[:12]}…, now {want[:12]}…); {fix}")
    if config is not None and manifest.get("config") != jsonable(config):
        raise StaleArtifactError(f"{folder}: built with another configuration; {fix}")
    for key, want in (expected or {}).items():
        if manifest.get("config", {}).get(key) != jsonable(want):
            raise StaleArtifactError(f"{folder}: built with another {key}; {fix}")
    return manifest
