"""The reading test set's sample (tests/data/reading): `python -m benchmarks.reading_sample`.

Picks the ReDial DEV messages that tests/data/reading/dev.jsonl annotates and writes them,
unannotated (act "" and no spans), as JSON lines: the skeleton a person fills in by hand.
Deterministic: the same train.jsonl gives the same messages in the same order.

What is picked: SEEKER messages (the seeker is a record's `initiatorWorkerId`) of the dev
dialogues (`retrieval.dialogue.is_dev`, 15% of train.jsonl's dialogues; valid.jsonl is
never read), with `@<movieId>` rendered as the movie's ReDial name ("Heat (1995)",
retrieval/redial.py `render`). 320 messages, at most 2 per dialogue, seeded: half from the
"rich" messages (a movie mention, a genre word or a negation word), half from the rest,
so that the short chit-chat lines do not dominate. Each comes with up to 4 preceding
messages of its dialogue as context, rendered the same way.

`--check` validates dev.jsonl and casual.jsonl against the schema of the README beside
them (parses, known act / kind / polarity, every span's text inside its message, list
references inside "shown", title values and shown titles that are ReDial names when the
catalog is there) and prints the counts per act, span kind and polarity.

ReDial (Li et al., "Towards Deep Conversational Recommendations", NeurIPS 2018) is CC BY 4.0.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

from retrieval.dialogue import is_dev
from retrieval.redial import default_data_dir, load_catalog, render

READING_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "reading"
N_MESSAGES = 320
PER_DIALOGUE = 2
CONTEXT_TURNS = 4
SEED = 31  # issue 31

ACTS = ("request", "more", "like", "dislike", "seen", "correction", "undo", "accept", "goodbye", "question",
        "small_talk")
KINDS = ("title", "person", "genre", "topic", "mood", "years", "limit", "audience", "list_ref")
POLARITIES = ("+", "-", "seen", "asked", "undo", "accept")
GENRES = ("Comedy", "Horror", "Sci-Fi", "Animation", "Romance", "Drama", "Action", "Thriller", "Crime",
          "Documentary", "Musical", "War", "Western", "Mystery", "Fantasy", "Adventure", "Children", "Film-Noir",
          "IMAX")
SOURCES = {"dev": "redial-dev", "casual": "casual"}

# Only to stratify the sample (never to label it): words that make a message worth reading.
RICH = re.compile(
    r"\b(comed(y|ies)|funny|horror|scary|scare|action|thriller|drama|romance|romantic|rom ?com|sci[- ]?fi|"
    r"science fiction|animated|animation|cartoons?|documentar(y|ies)|musicals?|war|westerns?|mystery|fantasy|"
    r"adventure|crime|family|kids?|children|superhero(es)?|suspense|disney|not|no|don'?t|never|hate|nothing|"
    r"without|isn'?t|wasn'?t|didn'?t|neither|nor|dislike)\b", re.I)


def seeker_messages(records: list[dict], catalog) -> list[dict]:
    """Every seeker message of the dev dialogues, rendered, with its context: unannotated rows."""
    rows = []
    for r in records:
        conv = str(r["conversationId"])
        if not is_dev(conv):
            continue
        seeker = r["initiatorWorkerId"]
        turns = [(m["senderWorkerId"] == seeker, render(str(m.get("text", "")), catalog)[0].strip(), m)
                 for m in r["messages"]]
        for i, (is_seeker, text, m) in enumerate(turns):
            if not is_seeker or not text:
                continue
            # messageId is null on about half of the lines (merged upstream): the index stands in.
            mid = m.get("messageId")
            rows.append({
                "id": f"dev-{conv}-{mid if mid is not None else f'i{i}'}",
                "source": "redial-dev",
                "context": [{"role": "seeker" if s else "recommender", "text": t}
                            for s, t, _ in turns[max(0, i - CONTEXT_TURNS):i]],
                "shown": [],
                "message": text,
                "act": "",
                "spans": [],
                "_dialogue": conv,
                "_rich": bool("@" in str(m.get("text", "")) or RICH.search(text)),
            })
    return rows


def sample(rows: list[dict], n: int = N_MESSAGES, seed: int = SEED) -> list[dict]:
    """n rows, at most PER_DIALOGUE per dialogue, half rich and half not (seeded), in file order."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    quota = {True: n // 2, False: n - n // 2}
    per_dialogue: Counter = Counter()
    picked = []
    for i in order:
        row = rows[i]
        if quota[row["_rich"]] and per_dialogue[row["_dialogue"]] < PER_DIALOGUE:
            quota[row["_rich"]] -= 1
            per_dialogue[row["_dialogue"]] += 1
            picked.append(i)
    if any(quota.values()):
        raise SystemExit(f"not enough messages to fill the strata: {quota} left")
    return [{k: v for k, v in rows[i].items() if not k.startswith("_")} for i in sorted(picked)]


def write_skeleton(data_dir: Path, out) -> int:
    catalog = load_catalog(data_dir, with_facts=False)
    with (data_dir / "train.jsonl").open(encoding="utf-8") as f:  # train only: never valid.jsonl
        records = [json.loads(line) for line in f if line.strip()]
    picked = sample(seeker_messages(records, catalog))
    for row in picked:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(picked)


def _positions(value: str) -> list[int] | None:
    if value == "all":
        return []
    try:
        return [int(p) for p in value.split(",")]
    except ValueError:
        return None


def check_file(path: Path, source: str, labels: set[str] | None) -> tuple[list[str], list[dict]]:
    """(problems, rows) of one annotated file."""
    problems, rows, ids = [], [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not JSON ({e})")
            continue
        rows.append(row)
        missing = {"id", "source", "context", "shown", "message", "act", "spans"} - set(row)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        where = f"{where} {row['id']}"
        if row["id"] in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(row["id"])
        if row["source"] != source:
            problems.append(f"{where}: source {row['source']!r}, expected {source!r}")
        if not isinstance(row["message"], str) or not row["message"].strip():
            problems.append(f"{where}: empty message")
        if not isinstance(row["context"], list) or any(
                not isinstance(c, dict) or c.get("role") not in ("seeker", "recommender")
                or not isinstance(c.get("text"), str) for c in row["context"]):
            problems.append(f"{where}: context must be [{{role: seeker|recommender, text}}]")
        if not isinstance(row["shown"], list) or not all(isinstance(s, str) for s in row["shown"]):
            problems.append(f"{where}: shown must be a list of titles")
        elif labels is not None:
            problems.extend(f"{where}: shown title {t!r} is not a ReDial name" for t in row["shown"] if t not in labels)
        if row["act"] not in ACTS:
            problems.append(f"{where}: act {row['act']!r}")
        if "note" in row and not isinstance(row["note"], str):
            problems.append(f"{where}: note must be text")
        for s in row["spans"]:
            if set(s) != {"kind", "text", "polarity", "value"}:
                problems.append(f"{where}: span keys {sorted(s)}")
                continue
            if s["kind"] not in KINDS:
                problems.append(f"{where}: kind {s['kind']!r}")
            if s["polarity"] not in POLARITIES:
                problems.append(f"{where}: polarity {s['polarity']!r}")
            if not s["text"] or s["text"] not in row["message"]:
                problems.append(f"{where}: span text {s['text']!r} not in the message")
            if not isinstance(s["value"], str) or not s["value"].strip():
                problems.append(f"{where}: span {s['text']!r} without a value")
                continue
            if s["kind"] == "genre" and s["value"] not in GENRES:
                problems.append(f"{where}: genre value {s['value']!r}")
            if s["kind"] == "title" and labels is not None and s["value"] not in labels:
                problems.append(f"{where}: title value {s['value']!r} is not a ReDial name")
            if s["kind"] == "list_ref":
                pos = _positions(s["value"])
                if pos is None or not row["shown"] or any(not 1 <= p <= len(row["shown"]) for p in pos):
                    problems.append(f"{where}: list_ref {s['value']!r} outside shown ({len(row['shown'])} items)")
    return problems, rows


def counts(rows: list[dict]) -> str:
    acts = Counter(r.get("act") for r in rows)
    spans = [s for r in rows for s in r.get("spans", [])]
    kinds, pols = Counter(s.get("kind") for s in spans), Counter(s.get("polarity") for s in spans)
    line = lambda c: ", ".join(f"{k} {v}" for k, v in c.most_common())  # noqa: E731
    return (f"  {len(rows)} messages, {len(spans)} spans\n  acts: {line(acts)}\n  kinds: {line(kinds)}\n"
            f"  polarity: {line(pols)}")


def check(reading_dir: Path, data_dir: Path) -> int:
    labels = None
    if (data_dir / "movies_with_mentions.csv").exists():
        labels = {item.label() for item in load_catalog(data_dir, with_facts=False).items}
    else:
        print(f"(no ReDial catalog at {data_dir}: title values not checked)")
    bad = 0
    for name, source in SOURCES.items():
        path = reading_dir / f"{name}.jsonl"
        if not path.exists():
            print(f"{path}: missing")
            bad += 1
            continue
        problems, rows = check_file(path, source, labels)
        print(f"{path.name}:\n{counts(rows)}")
        for p in problems:
            print("  PROBLEM", p)
        bad += len(problems)
    print("ok" if not bad else f"{bad} problem(s)")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir(), help="ReDial folder (train.jsonl, ...)")
    ap.add_argument("--out", type=Path, help="write the skeleton here (default: stdout)")
    ap.add_argument("--check", action="store_true", help="validate tests/data/reading/*.jsonl and print counts")
    ap.add_argument("--reading-dir", type=Path, default=READING_DIR, help="with --check: the folder to validate")
    args = ap.parse_args(argv)
    if args.check:
        return check(args.reading_dir, args.data_dir)
    if args.out:
        with args.out.open("w", encoding="utf-8") as f:
            n = write_skeleton(args.data_dir, f)
        print(f"{n} messages -> {args.out}", file=sys.stderr)
    else:
        write_skeleton(args.data_dir, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
