"""Rebuild retrieval/data/movielens_people.jsonl.gz: DBpedia director, cast and writer for
the MovieLens movies, taken from the ReDial movie facts.

    python -m retrieval.data.build_people [--data-dir ../shared/data/redial] [--out PATH]

MovieLens movies are linked to ReDial movies by normalised title and year
(retrieval.crosswalk.link_rows, the link that also lends MovieLens ratings and genres to
ReDial); each linked movie takes the people of its ReDial movie (retrieval.redial.people_facets).
The output is deterministic (retrieval.movielens_facets.people_bytes): the same sources
always give the same bytes, which tests/test_movielens_facets.py checks.

This script is the only code that reads the shared ReDial folder for this file; the library
reads the shipped output. Sources: CC BY-SA 3.0 (DBpedia), see LICENSE-DBPEDIA.txt.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from retrieval.crosswalk import link_rows
from retrieval.loaders import DataError
from retrieval.movielens import load_movielens
from retrieval.movielens_facets import PEOPLE_FILE, PEOPLE_ROLES, people_bytes
from retrieval.redial import default_data_dir, load_catalog, people_facets


def build(data_dir: Path) -> tuple[bytes, int]:
    """The people file's bytes and how many MovieLens movies it covers."""
    movielens, _ = load_movielens(facets=False)  # the bare catalog: this file is what facets read
    redial = load_catalog(data_dir)
    facts = json.loads((data_dir / "movie_facts.json").read_text(encoding="utf-8"))
    people: dict[str, dict[str, tuple[str, ...]]] = {}
    for ml_row, redial_row in link_rows(movielens, redial).items():
        record = facts.get(redial.items[redial_row].item_id) or {}
        roles = people_facets(record.get("facts") or {}).people
        if any(roles.get(r) for r in PEOPLE_ROLES):
            people[movielens.items[ml_row].item_id] = {r: roles[r] for r in PEOPLE_ROLES if roles.get(r)}
    return people_bytes(people), len(people)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="the ReDial folder with movies_with_mentions.csv and movie_facts.json")
    parser.add_argument("--out", type=Path, default=PEOPLE_FILE, help="where to write the .jsonl.gz")
    args = parser.parse_args(argv)
    try:
        data, covered = build(args.data_dir)
    except DataError as e:
        raise SystemExit(f"error: {e}") from None
    args.out.write_bytes(data)
    print(f"wrote {args.out}: people for {covered:,} MovieLens movies ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
