"""Rebuild retrieval/data/movielens_dialogues.jsonl.gz: ReDial's train.jsonl dialogues with
their movie mentions linked to the embedded MovieLens catalog.

    python -m retrieval.data.build_dialogues [--data-dir ../shared/data/redial] [--out PATH]

Only train.jsonl is read (valid.jsonl is the data no choice has seen). Movies are linked by
normalised title and year (retrieval.redial.load_linked_dialogues, the link `launch.py
--dialogues` uses); a mention without a MovieLens counterpart keeps its words and loses its
id. The output is deterministic (retrieval.shipped_dialogues.dialogues_bytes):
tests/test_shipped_dialogues.py checks that a rebuild gives the shipped bytes.

This script is the only code that reads the shared ReDial folder for this file; the library
reads the shipped output. Source: CC BY 4.0 (ReDial, Li et al. 2018), see LICENSE-REDIAL.txt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.loaders import DataError
from retrieval.movielens import load_movielens
from retrieval.redial import LinkedDialogues, default_data_dir, load_linked_dialogues
from retrieval.shipped_dialogues import DIALOGUES_FILE, dialogues_bytes


def build(data_dir: Path) -> tuple[bytes, LinkedDialogues]:
    """The file's bytes and the linked dialogues they hold."""
    movielens, _ = load_movielens(facets=False)  # titles and years: all a link needs
    linked = load_linked_dialogues(data_dir / "train.jsonl", movielens)
    return dialogues_bytes(linked.dialogues), linked


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="the ReDial folder with train.jsonl and movies_with_mentions.csv")
    parser.add_argument("--out", type=Path, default=DIALOGUES_FILE, help="where to write the .jsonl.gz")
    args = parser.parse_args(argv)
    try:
        data, linked = build(args.data_dir)
    except DataError as e:
        raise SystemExit(f"error: {e}") from None
    args.out.write_bytes(data)
    print(f"wrote {args.out}: {linked.describe()} ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
