"""Rebuild retrieval/data/movielens_content.jsonl.gz: a short description and the topics of
each MovieLens movie, from TMDB overviews and keywords.

    python -m retrieval.data.build_content [--out PATH]
        [--source ../shared/data/movie-content/movielens_content.jsonl.gz]

The source (The Movies Dataset, Kaggle, CC0, collected from TMDB; see
../shared/data/movie-content/README.md) is already keyed by MovieLens movieId. For every
movie of the embedded catalog (load_movielens(facets=False)):
- description = the TMDB overview cut to whole sentences, at most MAX_DESCRIPTION characters
  (the first sentence alone cut at a word boundary with "…" when it is longer), whitespace
  normalised; TMDB's "No overview found." counts as none;
- topics = the TMDB keywords, lower case, de-duplicated, in TMDB order, without META_KEYWORDS.
Movies with neither are left out. The output is deterministic
(retrieval.movielens_content.content_bytes), which tests/test_movielens_content.py checks.

This script is the only code that reads the shared content folder; the library reads the
shipped output. Attribution: retrieval/data/LICENSE-TMDB.txt.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path
from typing import Iterable

from retrieval.loaders import DataError
from retrieval.movielens import load_movielens
from retrieval.movielens_content import CONTENT_FILE, Content, content_bytes

# Characters of description kept: two or three sentences, about 50 word pieces, so the
# description (last in the item text) still fits in the encoder's 128-piece window after
# title, genres, topics and people.
MAX_DESCRIPTION = 240
ELLIPSIS = "…"
# TMDB keywords about how a film was made, shown or sold rather than what it is about; the
# most frequent keywords of the source were read and these are the ones that say nothing of
# the story (counts among the 9,125 MovieLens movies in brackets). Kept small on purpose:
# "sequel", "remake", "based on novel", "cult film" stay, since people ask for them.
META_KEYWORDS = frozenset({
    "independent film",      # (603) how it was financed
    "woman director",        # (541) who made it, not what it is about
    "duringcreditsstinger",  # (327) a scene during the credits
    "aftercreditsstinger",   # (178) a scene after the credits
    "3d",                    # (83) how it was shown
    "imax",                  # (26) how it was shown
    "no opening credits",    # (6) how it begins on screen
})
# Overviews TMDB writes when it has none.
NO_OVERVIEW = frozenset({"no overview found."})
# Words before a full stop that do not end a sentence ("Dr. No", "Mr. Smith"); single
# capital letters (initials, "Neil D. McCauley") and dotted abbreviations ("U.S.") are
# handled in `sentences`.
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "lt", "sgt", "capt", "col", "gen",
                           "prof", "rev", "mt", "ft", "vs", "no", "vol"})
# A sentence end: ., ! or ? (or a run of them), closing quotes or brackets, then a space.
END = re.compile(r"[.!?]+[\"'”’)\]]*(?= )")


def default_source() -> Path:
    """`../shared/data/movie-content/movielens_content.jsonl.gz` next to the repository root."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "movie-content" / "movielens_content.jsonl.gz"


def sentences(text: str) -> list[str]:
    """Whole sentences of `text` (whitespace normalised). A full stop after an abbreviation,
    an initial or a dotted abbreviation, or one followed by a lower-case word, ends none."""
    text = " ".join(text.split())
    out, start = [], 0
    for m in END.finditer(text):
        word = text[start:m.start()].rsplit(" ", 1)[-1].lstrip("\"'“‘([")
        after = text[m.end() + 1:m.end() + 2]
        if m.group().startswith(".") and (word.lower() in ABBREVIATIONS or re.fullmatch(r"[A-Z]|(\w\.)+\w", word)):
            continue
        if after and not (after.isupper() or after.isdigit() or after in "\"'“‘(["):
            continue
        out.append(text[start:m.end()])
        start = m.end() + 1
    if start < len(text):
        out.append(text[start:])
    return out


def describe(overview: str, limit: int = MAX_DESCRIPTION) -> str:
    """The overview's first whole sentences within `limit` characters; a first sentence
    longer than that is cut at a word boundary and ends in "…" (still within `limit`)."""
    parts = sentences(overview)
    if not parts or " ".join(overview.split()).lower() in NO_OVERVIEW:
        return ""
    out = parts[0]
    for s in parts[1:]:
        if len(out) + 1 + len(s) > limit:
            break
        out += " " + s
    if len(out) <= limit:
        return out
    # the words before the last space in the first limit - len("…") + 1 characters: at most
    # limit - len("…") characters, so the cut text with its "…" stays within the limit
    cut = out[:limit - len(ELLIPSIS) + 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-–— ") + ELLIPSIS


def topics(keywords: Iterable[str]) -> tuple[str, ...]:
    """TMDB keywords as topics: lower case, whitespace normalised, first appearance kept,
    META_KEYWORDS left out."""
    out = (" ".join(k.split()).lower() for k in keywords)
    return tuple(dict.fromkeys(k for k in out if k and k not in META_KEYWORDS))


def read_source(path: Path) -> list[dict]:
    """The shared source's records (one JSON object per line with movieId, overview, keywords)."""
    if not path.exists():
        raise DataError(f"{path}: the movie content source is missing; pass --source "
                        "(see ../shared/data/movie-content/README.md)")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
    if not all(isinstance(r, dict) and isinstance(r.get("movieId"), int) for r in records):
        raise DataError(f"{path}: expected one object with an integer movieId per line")
    return records


def build(source: Path) -> tuple[bytes, int, int, int]:
    """The content file's bytes, how many catalog movies it covers, and how many of them
    have a description and topics."""
    catalog, _ = load_movielens(facets=False)  # the bare catalog: this file is what facets read
    content: dict[str, Content] = {}
    for record in read_source(source):
        item_id = str(record["movieId"])
        if item_id in catalog:
            c = Content(describe(record.get("overview") or ""), topics(record.get("keywords") or ()))
            if c:
                content[item_id] = c
    described = sum(bool(c.description) for c in content.values())
    topical = sum(bool(c.topics) for c in content.values())
    return content_bytes(content), len(content), described, topical


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=default_source(),
                        help="the shared movielens_content.jsonl.gz (TMDB overviews and keywords by movieId)")
    parser.add_argument("--out", type=Path, default=CONTENT_FILE, help="where to write the .jsonl.gz")
    args = parser.parse_args(argv)
    try:
        data, covered, described, topical = build(args.source)
    except DataError as e:
        raise SystemExit(f"error: {e}") from None
    args.out.write_bytes(data)
    print(f"wrote {args.out}: content for {covered:,} MovieLens movies, {described:,} with a description, "
          f"{topical:,} with topics ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
