"""`python -m bot.offline.learn`: learn from the logbook into a new artifact folder.

    python -m bot.offline.learn --log-db logs/sessions.sqlite --artifacts artifacts/movielens \
        --out artifacts/movielens-learned [--since 2026-12-01] [--min-sessions 20]

Reads the logbook (bot/service/logbook.py), keeps the sessions that may be learned from, and hands
them to fusion/learn.py, which refits CF and the co-occurrence into `--out` (served as the
"logbook" term, its weight chosen on the held-out sessions and printed), writes the
encoder pairs beside them, and compares old and new pipeline on held-out sessions. Serve
the result with `python launch.py --artifacts <out>` (a restart).

Who is learned from (`logged_sessions`):
- a study participant's sessions only when that participant's latest "consent" event
  (logged by the chat's consent step) says accepted; no consent event, or a withdrawn one,
  and none of their sessions is used;
- sessions outside a study (no participant id) are used: the server logs them as its
  operators configured (`--no-log` turns logging off);
- with `--since`, only sessions whose first entry is at or after it;
- a "reset" starts a new conversation inside the session (turn numbers restart), so each
  part is learned from on its own.

What this module does NOT know: how CF or the encoder learn (fusion/learn.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from bot.service.logbook import Logbook, LogbookError
from retrieval.records import LoggedSession

MIN_SESSIONS = 20  # below this many usable sessions, learning is refused (a handful is noise)


def parse_since(text: str) -> datetime:
    """An ISO 8601 date or time ("2026-12-01", "2026-12-01T09:00Z"), read as UTC when no
    zone is given."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r} is not an ISO 8601 date or time, e.g. 2026-12-01 "
                         "or 2026-12-01T09:00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def consented(records: Sequence[dict]) -> dict[str, bool]:
    """participant id -> whether their latest "consent" event (in log order) accepted."""
    events = sorted(((e["seq"], s["participant_id"], bool(e["detail"].get("accepted")))
                     for s in records if s["participant_id"] is not None
                     for e in s["events"] if e["kind"] == "consent"), key=lambda x: x[0])
    return {pid: ok for _, pid, ok in events}


def _parts(record: dict) -> list[LoggedSession]:
    """One logbook session record (Logbook.sessions) as LoggedSessions, split at resets."""
    entries = sorted([("turn", t) for t in record["turns"]] + [("feedback", f) for f in record["feedback"]]
                     + [("rating", r) for r in record["ratings"]]
                     + [("reset", e) for e in record["events"] if e["kind"] == "reset"],
                     key=lambda x: x[1]["seq"])
    out: list[LoggedSession] = []
    part = {"messages": {}, "shown": {}, "reaction": {}, "ratings": {}, "start": record["created_ts"]}

    def close() -> None:
        if not part["messages"]:
            return
        n = max(part["messages"]) + 1
        messages = tuple(part["messages"].get(i, "") for i in range(n))
        liked = tuple((i, t) for i, (kind, t) in part["reaction"].items() if kind == "like")
        disliked = tuple((i, t) for i, (kind, t) in part["reaction"].items() if kind == "dislike")
        rated = tuple((t, r, part["shown"].get(t, ())) for t, r in sorted(part["ratings"].items()))
        sid = record["session_id"] if not out else f"{record['session_id']}/{len(out)}"
        out.append(LoggedSession(sid, messages, liked, disliked, rated, record["user_id"],
                                 record["participant_id"], part["start"]))

    for kind, e in entries:
        if kind == "reset":
            close()
            part = {"messages": {}, "shown": {}, "reaction": {}, "ratings": {}, "start": e["ts"]}
        elif kind == "turn":
            part["messages"][e["turn_index"]] = e["message"]
            part["shown"][e["turn_index"]] = tuple(it["item_id"] for it in e["items"])
        elif kind == "feedback":
            turn = e["turn_index"] if e["turn_index"] is not None else max(part["messages"], default=0)
            part["reaction"].pop(e["item_id"], None)  # re-inserted last: the latest reaction's order
            if e["kind"] != "unlike":
                part["reaction"][e["item_id"]] = (e["kind"], turn)
        else:
            part["ratings"][e["turn_index"]] = e["rating"]
    close()
    return out


def logged_sessions(records: Sequence[dict], since: datetime | None = None
                    ) -> tuple[list[LoggedSession], Counter]:
    """(the sessions that may be learned from, why the others were skipped: reason -> count)
    from `Logbook.sessions()` records; see the module doc for the rules."""
    consent = consented(records)
    usable: list[LoggedSession] = []
    skipped: Counter = Counter()
    for rec in records:
        pid = rec["participant_id"]
        if pid is not None and not consent.get(pid, False):
            skipped["study participant without recorded consent"] += 1
            continue
        if since is not None and _time(rec["created_ts"]) < since:
            skipped["before --since"] += 1
            continue
        for part in _parts(rec):
            if part.liked or part.disliked or part.rated_lists:
                usable.append(part)
            else:
                skipped["no feedback to learn from"] += 1
    return usable, skipped


def read_logbook(path: Path, since: datetime | None = None) -> tuple[list[LoggedSession], Counter]:
    with Logbook(path, create=False) as book:
        return logged_sessions(book.sessions(), since)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(prog="python -m bot.offline.learn", description=__doc__.split("\n")[0])
    p.add_argument("--log-db", type=Path, nargs="+", default=[Path("logs") / "sessions.sqlite"],
                   help="the logbook SQLite file (several: read one after another, e.g. rotated logs)")
    p.add_argument("--artifacts", type=Path, default=Path("artifacts") / "movielens",
                   help="the serving artifact folder (read only)")
    p.add_argument("--out", type=Path, required=True, help="the new artifact folder to write (must not exist)")
    p.add_argument("--since", type=parse_since, default=None, metavar="ISO",
                   help="learn only from sessions started at or after this UTC date/time")
    p.add_argument("--min-sessions", type=int, default=MIN_SESSIONS,
                   help=f"refuse to learn from fewer usable sessions (default {MIN_SESSIONS})")
    p.add_argument("--holdout", type=float, default=0.2,
                   help="share of the sessions with likes held out for the before/after comparison (0: none)")
    p.add_argument("--catalog", type=Path, default=None,
                   help="the catalog file the artifacts were built for (default: embedded MovieLens)")
    p.add_argument("--interactions", type=Path, default=None, help="its interaction log (with --catalog)")
    p.add_argument("--encoder", type=Path, default=None,
                   help="the encoder folder when the artifacts have no fine-tuned encoder/ (default: packaged)")
    p.add_argument("--finetune-encoder", action="store_true",
                   help="also fine-tune the encoder on the sessions' (context -> liked item) pairs, disliked "
                        "items as hard negatives, and re-embed the catalog (minutes; CF and co-occurrence: seconds)")
    p.add_argument("--logbook-term", action="store_true",
                   help="serve the items liked together in logged chats as the 'logbook' term at the weight the "
                        "held-out sessions choose (off by default: in the long-term simulation it lowered accuracy, "
                        "benchmarks/results/longterm.md)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not 0.0 <= args.holdout < 1.0:
        p.error("--holdout must be in [0, 1)")
    if args.min_sessions < 1:
        p.error("--min-sessions must be at least 1")
    sessions, skipped = [], Counter()
    try:
        for path in args.log_db:
            found, why_not = read_logbook(path, args.since)
            sessions += found
            skipped.update(why_not)
    except LogbookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    why = "; ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
    print(f"{len(sessions)} usable sessions in {', '.join(map(str, args.log_db))}"
          + (f" (skipped: {why})" if why else ""), flush=True)
    if len(sessions) < args.min_sessions:
        print(f"error: only {len(sessions)} usable sessions"
              + (f" since {args.since.isoformat()}" if args.since else "")
              + f", fewer than --min-sessions {args.min_sessions}: learning from a handful of turns would "
              "fit noise. Collect more sessions, widen --since, or lower --min-sessions deliberately.",
              file=sys.stderr)
        return 2
    from fusion.learn import LearnConfig, learn, report_lines
    from retrieval.artifacts import StaleArtifactError
    from fusion.build import served_encoder
    from retrieval.loaders import DataError

    try:
        if args.catalog is None:
            from retrieval.movielens import load_movielens

            catalog, interactions = load_movielens()
        else:
            from retrieval.loaders import load_interactions, read_catalog
            from retrieval.records import Interactions

            catalog = read_catalog(args.catalog).catalog
            interactions = (load_interactions(args.interactions, catalog) if args.interactions
                            else Interactions.empty())
        encoder = served_encoder(args.artifacts, args.encoder)
        report = learn(args.artifacts, args.out, catalog, interactions, encoder, sessions,
                       LearnConfig(holdout_share=args.holdout, seed=args.seed, logbook_term=args.logbook_term),
                       {"log_db": [str(p) for p in args.log_db], "since": args.since.isoformat() if args.since else None,
                        "skipped": dict(skipped)},
                       finetune=_recipe(args.seed) if args.finetune_encoder else None, progress=True)
    except (DataError, StaleArtifactError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in report_lines(report):
        print(line)
    print(f"serve it with: python launch.py --artifacts {args.out}")
    return 0


def _recipe(seed: int):
    """The catalog fine-tune's recipe (top layer only, short texts), for the logged pairs."""
    from dataclasses import replace

    from retrieval.finetune import CATALOG_RECIPE

    return replace(CATALOG_RECIPE, seed=seed)


if __name__ == "__main__":
    sys.exit(main())
