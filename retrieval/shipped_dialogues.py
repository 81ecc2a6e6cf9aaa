"""The dialogues that ship with the package: ReDial's train.jsonl, linked to MovieLens.

`retrieval/data/movielens_dialogues.jsonl.gz` holds the 1,513 dialogues of ReDial's
train.jsonl (never valid.jsonl) with every movie mention moved to the embedded MovieLens
catalog's item ids (title and year, retrieval/crosswalk.py), the mention written out as
ReDial's title, and the seeker's after-dialogue answers (liked / not liked) on the same
ids. Worker ids and the questionnaires' other answers are left out. It is what
`launch.py` learns from by default, so a fresh clone without `../shared` builds the
dialogue-learned bot; `python -m retrieval.data.build_dialogues` rebuilds it from
`../shared/data/redial/train.jsonl` with identical bytes (CC BY 4.0, LICENSE-REDIAL.txt).

Knows nothing of encoders, CF or metrics.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Sequence

from retrieval.dialogue import Dialogue, Utterance
from retrieval.loaders import DataError
from retrieval.records import Catalog

DIALOGUES_FILE = Path(__file__).resolve().parent / "data" / "movielens_dialogues.jsonl.gz"
REBUILD = ("reinstall convrec (`pip install -e .`) or rebuild it with `python -m retrieval.data.build_dialogues` "
           "(needs ../shared/data/redial)")


def dialogues_bytes(dialogues: Sequence[Dialogue]) -> bytes:
    """The file's bytes for `dialogues`, in the order given: one JSON object per line
    (`id`, `turns` as [seeker 0/1, text, [item ids]], sorted `liked` / `disliked`),
    gzip with mtime 0: the same dialogues always give the same bytes."""
    lines = []
    for d in dialogues:
        record = {"id": d.dialogue_id, "turns": [[int(t.seeker), t.text, list(t.item_ids)] for t in d.turns],
                  "liked": sorted(d.seeker_liked_ids), "disliked": sorted(d.seeker_disliked_ids)}
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return gzip.compress("".join(lines).encode("utf-8"), compresslevel=9, mtime=0)


def read_dialogues(path: Path = DIALOGUES_FILE) -> list[Dialogue]:
    """The dialogues in a file `dialogues_bytes` wrote. A missing or malformed file is a
    DataError saying how to get it back."""
    if not path.exists():
        raise DataError(f"{path}: the shipped dialogue file is missing from the package; {REBUILD}")
    out = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                r = json.loads(line)
                try:
                    turns = tuple(Utterance(bool(s), str(text), tuple(str(i) for i in ids))
                                  for s, text, ids in r["turns"])
                    out.append(Dialogue(str(r["id"]), turns, frozenset(map(str, r["liked"])),
                                        frozenset(map(str, r["disliked"]))))
                except (KeyError, TypeError, ValueError) as e:
                    raise DataError(f"{path}:{line_no}: not a dialogue record ({type(e).__name__}: {e}); "
                                    f"{REBUILD}") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable ({type(e).__name__}: {e}); {REBUILD}") from None
    return out


def shipped_dialogues(catalog: Catalog, path: Path = DIALOGUES_FILE) -> list[Dialogue]:
    """The shipped dialogues on `catalog`: item ids it lacks (a catalog changed since, or
    another catalog with MovieLens ids) are dropped from the turns and answers, the words
    stay, as when a ReDial file is linked (retrieval/dialogue.py relink)."""
    from retrieval.dialogue import relink

    dialogues = read_dialogues(path)
    ids = {i for d in dialogues for t in d.turns for i in t.item_ids} | {
        i for d in dialogues for i in d.seeker_liked_ids | d.seeker_disliked_ids}
    return relink(dialogues, {i: i for i in ids if i in catalog})
