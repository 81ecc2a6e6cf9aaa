"""Artifact folders: what was built, from which catalog, with which libraries.

Every artifact folder has a `manifest.json` with a format version, library versions, the
configs used, the fingerprint of the catalog (and interactions) it was built from, and the
sha256 and size of every file written beside it. `check_manifest` refuses a folder built
for other data, or whose files changed since (checked for files under `CHEAP_BYTES`; all of
them with `verify_files(..., max_bytes=None)`, launch.py --verify), naming the flag that
rebuilds it. An unreadable manifest is the same clean error, never a traceback.

Manifests written before file hashes existed load as before: their hashes are "not
recorded" (nothing to compare), and `verify_tree` lists them so they can be rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
LIBRARIES = ("torch", "transformers", "faiss-cpu", "implicit", "numpy", "scipy")
CHEAP_BYTES = 1 << 30  # files under 1 GB are hashed at every load (~2 s per GB on one core)
NOT_ARTIFACTS = (".tmp", ".log", ".sqlite", ".sqlite-wal", ".sqlite-shm", "-journal")  # written later
FIX = "delete the folder or run launch.py with --rebuild"


class StaleArtifactError(RuntimeError):
    """An artifact folder that does not match the data or code it is loaded for."""


class OutdatedArtifactError(StaleArtifactError):
    """A sound folder built for other data or by an older format: a build rebuilds it
    (fusion/build.py), where damaged or unreadable files stay a refusal to be looked at."""


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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_files(folder: Path) -> list[Path]:
    """The files a folder's manifest vouches for: all below it except the manifest, files
    written after the build (logs, temporary files) and sub-folders with their own manifest."""
    out = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if not (path / "manifest.json").exists():
                out += artifact_files(path)
        elif path.name != "manifest.json" and not path.name.endswith(NOT_ARTIFACTS):
            out.append(path)
    return out


def json_fingerprint(value: Any) -> str:
    """sha256 of `value` as sorted-key JSON: what a manifest records for a config or recipe."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def write_manifest(folder: Path, kind: str, fingerprints: dict[str, str], config: dict[str, Any]) -> None:
    """Write `folder`/manifest.json last, after every file it vouches for."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "libraries": library_versions(),
        "fingerprints": fingerprints,
        "config": config,
        "files": {p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                  for p in artifact_files(folder)},
    }
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(folder / "manifest.json")  # atomic: a half-written manifest never exists


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.exists():
        raise StaleArtifactError(f"{folder}: no manifest.json; it is not a built artifact folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StaleArtifactError(f"{path} is unreadable ({type(e).__name__}); {FIX}") from None
    if not isinstance(manifest, dict):
        raise StaleArtifactError(f"{path} is not a manifest (a JSON {type(manifest).__name__}); {FIX}")
    return manifest


def verify_files(folder: Path, manifest: dict[str, Any] | None = None, max_bytes: int | None = CHEAP_BYTES) -> int:
    """Check every file the manifest recorded (size, then sha256; files over `max_bytes`
    are skipped, None checks all); StaleArtifactError on the first that differs or is
    missing. Returns the number of files hashed (0 for a manifest without hashes)."""
    manifest = read_manifest(folder) if manifest is None else manifest
    files = manifest.get("files")
    if not isinstance(files, dict):
        return 0  # written before hashes were recorded: nothing to compare
    checked = 0
    for name, want in files.items():
        path = folder / name
        if not isinstance(want, dict) or not path.is_file():
            raise StaleArtifactError(f"{folder}: {name} is missing; {FIX}")
        size = path.stat().st_size
        if size != want.get("bytes"):
            raise StaleArtifactError(f"{folder}: {name} is {size} bytes, built as {want.get('bytes')}; {FIX}")
        if max_bytes is not None and size > max_bytes:
            continue
        if sha256_file(path) != want.get("sha256"):
            raise StaleArtifactError(f"{folder}: {name} changed since it was built (sha256 differs); {FIX}")
        checked += 1
    return checked


def verify_tree(root: Path) -> list[tuple[Path, int | None]]:
    """`verify_files` with no size limit for every artifact folder under `root`: (folder,
    files hashed), None for a manifest without hashes (rebuild it to record them)."""
    out = []
    for manifest in sorted(root.rglob("manifest.json")):
        folder = manifest.parent
        recorded = isinstance(read_manifest(folder).get("files"), dict)
        out.append((folder, verify_files(folder, max_bytes=None) if recorded else None))
    return out


def check_manifest(folder: Path, kind: str, fingerprints: dict[str, str],
                   config: dict[str, Any] | None = None,
                   expected: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the manifest if it was built by this format for these data (and config) and
    its files under CHEAP_BYTES are as built, else raise StaleArtifactError saying why and
    how to rebuild (OutdatedArtifactError when it is sound but built for other data, code
    or config: a build rebuilds that part). `expected`: entries of the manifest's config that must hold these
    values (the rest of it may differ)."""
    manifest = read_manifest(folder)
    fix = FIX
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("kind") != kind:
        raise OutdatedArtifactError(f"{folder}: built as {manifest.get('kind')!r} format "
                                    f"{manifest.get('format_version')}, expected {kind!r} format "
                                    f"{FORMAT_VERSION}; {fix}")
    for name, want in fingerprints.items():
        have = manifest.get("fingerprints", {}).get(name)
        if have != want:
            raise OutdatedArtifactError(f"{folder}: built for another {name} "
                                        f"(fingerprint {str(have)[:12]}…, now {want[:12]}…); {fix}")
    if config is not None and manifest.get("config") != jsonable(config):
        raise OutdatedArtifactError(f"{folder}: built with another configuration; {fix}")
    for key, want in (expected or {}).items():
        if manifest.get("config", {}).get(key) != jsonable(want):
            raise OutdatedArtifactError(f"{folder}: built with another {key}; {fix}")
    verify_files(folder, manifest)
    return manifest


def tree_fingerprint(folder: Path) -> str:
    """sha256 over every file below `folder` (relative path and content, manifests
    included; logs and temporary files left out): any change to a served artifact, or a
    new one built beside it, changes it. Hashes every file: seconds for a model folder."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.endswith(NOT_ARTIFACTS)):
        h.update(path.relative_to(folder).as_posix().encode() + b"\x00" + sha256_file(path).encode() + b"\x01")
    return h.hexdigest()
