"""What each movie of the embedded MovieLens catalog is about: a short description and topics.

The content file `retrieval/data/movielens_content.jsonl.gz` ships in the package, derived
from TMDB overviews and keywords (The Movies Dataset, Kaggle, CC0; attribution and rebuild
steps in retrieval/data/LICENSE-TMDB.txt) by `python -m retrieval.data.build_content`.
retrieval/movielens.py reads it into the topic facet (retrieval/facets.py TOPIC_FACET) and
the item text; this module holds the file format, reader and writer side by side: one JSON
object per line, {"item_id": "6", "description": "...", "topics": ["robbery", ...]}, lines
sorted by numeric item id, gzip with mtime 0 so a rebuild gives identical bytes.

Knows nothing of encoders, item texts or how descriptions are cut and topics chosen (that
is the build script's business).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from retrieval.loaders import DataError

CONTENT_FILE = Path(__file__).resolve().parent / "data" / "movielens_content.jsonl.gz"
REBUILD = ("reinstall convrec (`pip install -e .`) or rebuild it with "
           "`python -m retrieval.data.build_content`")


@dataclass(frozen=True)
class Content:
    """What one movie is about: `description` (a few whole sentences, "" when unknown) and
    `topics` (lower case, most telling first as the source orders them, () when unknown)."""

    description: str = ""
    topics: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.description or self.topics)


def read_content(path: Path = CONTENT_FILE) -> dict[str, Content]:
    """item id -> Content from the shipped content file. A missing or malformed file is a
    DataError saying how to get it back."""
    if not path.exists():
        raise DataError(f"{path}: the MovieLens content file is missing from the package; {REBUILD}")
    out: dict[str, Content] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                record = json.loads(line)
                if (not isinstance(record, dict) or not isinstance(record.get("item_id"), str)
                        or not isinstance(record.get("description", ""), str)
                        or not isinstance(record.get("topics", []), list)
                        or not all(isinstance(t, str) for t in record.get("topics", []))):
                    raise DataError(f"{path}:{line_no}: expected an object with a string item_id, a string "
                                    f"description and a list of string topics; {REBUILD}")
                out[record["item_id"]] = Content(record.get("description", ""), tuple(record.get("topics", ())))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable ({type(e).__name__}: {e}); {REBUILD}") from None
    return out


def content_bytes(content: Mapping[str, Content]) -> bytes:
    """The content file's bytes for item id -> Content: both keys on every line, items with
    neither description nor topics left out, lines sorted by numeric item id, gzip with
    mtime 0: the same input always gives the same bytes."""
    lines = []
    for item_id in sorted(content, key=lambda i: (int(i) if i.isdigit() else float("inf"), i)):
        c = content[item_id]
        if c:
            record = {"item_id": item_id, "description": c.description, "topics": list(c.topics)}
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    # compresslevel 9 is gzip's default; named so the bytes do not depend on a default changing.
    return gzip.compress("".join(lines).encode("utf-8"), compresslevel=9, mtime=0)
