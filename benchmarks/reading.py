"""The reading benchmark: the bot's reading of annotated messages against their annotation.

    python -m benchmarks.reading [--artifacts artifacts/movielens] [--label after]

Reads tests/data/reading/dev.jsonl (seeker messages of the dev split of ReDial's
train.jsonl) and casual.jsonl (phrasings written the way strangers type), each annotated by
hand with its act and spans (tests/data/reading/README.md). Every message goes through the
bot as the chat runs it (`make run`'s artifacts, `Bot.listen` after its context), and
the reading it leaves in the session is compared with the annotation:

- acts: precision / recall / F1 per act, and accuracy;
- spans: per kind, a predicted (kind, value, polarity) matches an annotated one of the same
  kind and value (titles: the same film by normalised title and year; people: the same
  name; genres: the same genre; years: the same range; limits and audiences: the same kind
  alone) and polarity; F1 per kind. Titles the catalog lacks are left out of the recall
  (counted apart): the bot cannot link a film it does not have;
- negation scope: of the annotated "+"/"-" spans the bot found (same kind and value), the
  share it gave the right polarity, over messages with at least one "-".

The predictions are read from the Reading's fields (liked/disliked/seen/asked ids, people
and limits, genres, years, audience, undone and accepted ids), the same for any version of
the reader, so the result of an older commit compares with a newer one; the act of a
reading without one (before the reader had acts) is derived from its fields as that bot's
reply logic acted on them (`legacy_act`). Writes benchmarks/results/reading[_LABEL].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "reading"
RESULTS = ROOT / "benchmarks" / "results"
GOALS = {"act accuracy": 0.95, "title F1": 0.90, "person F1": 0.90, "negation scope": 0.90}
SCORED_KINDS = ("title", "person", "genre", "topic", "mood", "years", "limit", "audience", "list_ref")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def legacy_act(reading, message: str) -> str:
    """The act a reading without `act` stands for: what the bot of that version did with it."""
    from bot.conversation.intents import is_question, small_talk

    if getattr(reading, "asked_ids", ()):
        return "question"
    if reading.paging:
        return "more"
    if (reading.text or reading.wanted_genres or reading.banned_genres or reading.facet_filters
            or reading.years is not None or reading.relative_years or reading.banned_words):
        return "request"
    if reading.liked_ids:
        return "like"
    if reading.disliked_ids:
        return "dislike"
    if reading.seen_ids:
        return "seen"
    talk = small_talk(message)
    if talk == "bye":
        return "goodbye"
    if talk is None and is_question(message):
        return "question"
    return "small_talk"


class Keys:
    """Comparable values: films by (normalised title without article, year); `plain`: the
    words that name no topic (filler, the catalog's genre words and kind words)."""

    def __init__(self, catalog, vocabulary=None) -> None:
        from bot.conversation.understand import FILLER
        from retrieval.titles import title_key

        self.plain = FILLER | catalog.kind.words() | (vocabulary.words() if vocabulary is not None else frozenset())

        self.catalog = catalog
        self.title_key = title_key
        self.in_catalog = {title_key(it.title, it.year) for it in catalog.items}
        self.by_key = {}
        for it in catalog.items:
            self.by_key.setdefault(title_key(it.title, it.year), it.item_id)

    def film(self, name: str) -> tuple[str, int | None]:
        """'Heat (1995)' -> ('heat', 1995)."""
        from retrieval.redial import split_title

        title, year = split_title(name)
        return self.title_key(title, year)

    def item(self, item_id: str) -> tuple[str, int | None]:
        it = self.catalog.items[self.catalog.row(item_id)]
        return self.title_key(it.title, it.year)


def norm(text: str) -> str:
    from retrieval.titles import WORDS, fold

    return " ".join(WORDS.findall(fold(text)))


def years_value(y) -> str:
    if y is None:
        return ""
    if y.first is None and y.last is None:
        return "any"
    return f"{y.first or ''}-{y.last or ''}" if y.first != y.last else str(y.first)


def gold_value(span: dict, keys: Keys) -> object:
    kind, value = span["kind"], span.get("value", "") or span["text"]
    if kind == "title":
        return keys.film(value)
    if kind in ("person", "genre"):
        v = norm(value)
        return {"children s": "children", "kids": "children", "sci fi": "science fiction",
                "scifi": "science fiction"}.get(v, v)
    if kind == "years":
        v = value.strip().lower()
        return v if v in ("older", "newer") else v.replace(" ", "")
    if kind == "list_ref":
        return ",".join(sorted(v.strip() for v in str(value).split(",")))
    if kind == "audience":
        return "kids" if value.lower() in ("kids", "family", "children") else value.lower()
    return ""  # limit, topic, mood: the kind alone


def years_as_said(gold: tuple, pred: list[tuple]) -> tuple:
    """One annotated years span in the reader's terms: a ruled-out range is the range on the
    other side ("nothing before 2000": -1999 ruled out = 2000- asked for); "older" /
    "newer" are whatever one-sided range the reader resolved them to, if it did."""
    kind, value, polarity = gold
    if kind != "years" or not isinstance(value, str):
        return gold
    if polarity == "-" and value.startswith("-") and value[1:].isdigit():
        return kind, f"{int(value[1:]) + 1}-", "+"
    if polarity == "-" and value.endswith("-") and value[:-1].isdigit():
        return kind, f"-{int(value[:-1]) - 1}", "+"
    for k, v, p in pred:
        if k == "years" and p == polarity and ((value == "older" and v.startswith("-"))
                                                or (value == "newer" and v.endswith("-") and v[:-1].isdigit())):
            return k, v, p
    return gold


def predicted(reading, message: str, shown_ids: tuple[str, ...], keys: Keys) -> tuple[str, list[tuple]]:
    """(act, [(kind, value, polarity)]) of one reading."""
    from bot.conversation.linking import list_references
    from bot.conversation.vocabulary import MOODS, NARROW, canonical

    MOOD_WORDS = MOODS | {"dark", "darker", "gritty", "tense", "serious", "emotional", "moving", "lighthearted", "silly"}

    act = getattr(reading, "act", None) or legacy_act(reading, message)
    out: list[tuple] = []
    refs = {}
    for pos, _ in list_references(message, len(shown_ids)):
        refs.setdefault(shown_ids[pos - 1], []).append(pos)
    verdicts = ([(i, "+") for i in reading.liked_ids] + [(i, "-") for i in reading.disliked_ids]
                + [(i, "seen") for i in reading.seen_ids] + [(i, "asked") for i in getattr(reading, "asked_ids", ())]
                + [(i, "undo") for i in (getattr(reading, "undone_ids", ()) if act == "undo" else ())]
                + [(i, "accept") for i in getattr(reading, "accepted_ids", ())])
    accepted = set(getattr(reading, "accepted_ids", ()))
    group = [s for s in getattr(reading, "spans", ()) if s.kind == "list_ref" and s.value == "all"]
    grouped = set(shown_ids) if group else set()
    out += [("list_ref", "all", s.polarity) for s in group]  # "love those": one reference to them all
    for item_id, polarity in verdicts:
        if polarity == "+" and item_id in accepted:
            continue  # an accepted pick is also liked: one span, "accept"
        if item_id in grouped:
            continue
        if item_id in refs:
            out += [("list_ref", str(p), polarity) for p in refs[item_id]]
        else:
            out.append(("title", keys.item(item_id), polarity))
    for f in reading.facet_filters:
        if f.kind == "people":
            out += [("person", norm(v), "-" if f.negate else "+") for v in f.values]
        elif f.kind == "cat" and f.name == "topic":  # "no vampires": a topic ruled out
            out.append(("topic", "", "-" if f.negate else "+"))
        else:
            out.append(("limit", "", "-" if f.negate else "+"))
    kids = getattr(reading, "audience", "") == "kids"
    cue_words: set[str] = set()
    for g in reading.wanted_genres:
        cues = tuple(reading.cues.get(g, ()))
        if cues and all(c in MOOD_WORDS for c in cues):  # "uplifting" read as Comedy: a mood asked for
            out += [("mood", "", "+") for c in cues if c not in cue_words]
        elif cues and all(c in NARROW for c in cues):  # "heist" read as Crime: a topic asked for
            out += [("topic", "", "+") for c in cues if c not in cue_words]
        elif not (kids and canonical(g) == "children"):  # "for my kids" is the audience, not a genre too
            out.append(("genre", canonical(g), "+"))
        cue_words.update(cues)
    out += [("genre", canonical(g), "-") for g in reading.banned_genres]
    # topics read from the catalog's vocabulary (bot/conversation/topics.py), unless also a genre's cue above
    out += [("topic", "", "+") for t in getattr(reading, "topics", ()) if t not in cue_words
            and not any(c.rstrip("s") == t for c in cue_words)]
    left = [w for w in re.findall(r"[a-z0-9']+", reading.text.lower()) if w not in keys.plain]
    if act in ("request", "more") and left and not any(k == "topic" for k, _, _ in out):
        out.append(("topic", "", "+"))  # words left for the encoder beyond genres and filler: what it is about
    out += [("topic", "", "-") for _ in getattr(reading, "unused", ())]
    if reading.years is not None:
        out.append(("years", years_value(reading.years), "+"))
    elif reading.relative_years:
        out.append(("years", reading.relative_years, "+"))
    if getattr(reading, "audience", ""):
        out.append(("audience", reading.audience, "+"))
    return act, out


def session_for(bot, example: dict):
    """The session the message arrives in: the context replayed (seeker messages read as
    the chat reads them, recommender messages as lists naming their titles), then the
    shown list."""
    from retrieval.dialogue import Utterance

    session = bot.new_session("reading")
    for turn in example.get("context", []):
        if turn["role"] == "seeker":
            session = bot.listen(turn["text"], session)
        else:
            ids = tuple(dict.fromkeys(m.item_id for m in bot.linker.find(turn["text"])))
            session = session.with_shown(ids, Utterance(False, turn["text"], ids))
    shown = tuple(bot.linker.find(f'"{t}"')[0].item_id for t in example.get("shown", []) if bot.linker.find(f'"{t}"'))
    if shown:
        session = session.with_shown(shown, Utterance(False, "; ".join(example["shown"]), shown))
    return session


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
            "n_gold": n_gold, "n_pred": n_pred}


def score(bot, examples: list[dict], keys: Keys) -> dict:
    acts = Counter()
    act_tp, act_pred, act_gold = Counter(), Counter(), Counter()
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    missing_titles = 0
    scope_right = scope_found = 0
    wrong: list[dict] = []
    for ex in examples:
        session = session_for(bot, ex)
        after = bot.listen(ex["message"], session)
        reading = after.readings[-1]
        act, pred = predicted(reading, ex["message"], session.last_ids, keys)
        acts[act == ex["act"]] += 1
        act_pred[act] += 1
        act_gold[ex["act"]] += 1
        act_tp[act] += act == ex["act"]
        gold = []
        for s in ex["spans"]:
            v = gold_value(s, keys)
            if s["kind"] == "title" and v not in keys.in_catalog:
                missing_titles += 1
                continue
            if s["kind"] == "list_ref" and v != "all":  # "1 and 3": a reference to each
                gold += [("list_ref", pos, s["polarity"]) for pos in v.split(",")]
                continue
            gold.append((s["kind"], v, s["polarity"]))
        gold = [years_as_said(g, pred) for g in gold]
        # limits, topics, moods: matched by kind alone
        pred_set = Counter((k, v if k not in ("limit", "topic", "mood") else "", p) for k, v, p in pred)
        gold_set = Counter((k, v if k not in ("limit", "topic", "mood") else "", p) for k, v, p in gold)
        for k, v, p in gold_set:
            n_gold[k] += gold_set[(k, v, p)]
        for k, v, p in pred_set:
            n_pred[k] += pred_set[(k, v, p)]
            tp[k] += min(pred_set[(k, v, p)], gold_set.get((k, v, p), 0))
        if any(p == "-" for _, _, p in gold):
            found = {(k, v): p for k, v, p in pred}
            for k, v, p in gold:
                if p in "+-" and len(p) == 1 and (k, v) in found:
                    scope_found += 1
                    scope_right += found[(k, v)] == p
        if act != ex["act"] or pred_set != gold_set:
            wrong.append({"id": ex["id"], "message": ex["message"], "act": [ex["act"], act],
                          "missing": sorted(map(str, (gold_set - pred_set).elements())),
                          "extra": sorted(map(str, (pred_set - gold_set).elements()))})
    return {
        "n": len(examples), "act accuracy": round(acts[True] / max(1, len(examples)), 3),
        "acts": {a: prf(act_tp[a], act_pred[a], act_gold[a]) for a in sorted(set(act_gold) | set(act_pred))},
        "spans": {k: prf(tp[k], n_pred[k], n_gold[k]) for k in SCORED_KINDS if n_gold[k] or n_pred[k]},
        "negation scope": round(scope_right / scope_found, 3) if scope_found else None,
        "negation spans scored": scope_found, "titles not in the catalog": missing_titles, "misread": wrong,
    }


def markdown(result: dict) -> str:
    lines = [f"# Reading benchmark ({result['label']})", "", result["protocol"], "",
             f"Bot: {result['bot']}; commit {result['commit']}; {result['seconds']} s.", ""]
    for name, r in result["sets"].items():
        lines += [f"## {name} ({r['n']} messages)", "",
                  f"Act accuracy **{r['act accuracy']:.3f}**; negation scope "
                  f"**{r['negation scope'] if r['negation scope'] is not None else 'n/a'}** "
                  f"({r['negation spans scored']} spans); titles the catalog lacks, left out: "
                  f"{r['titles not in the catalog']}.", "",
                  "| act | precision | recall | F1 | annotated | read |", "|---|---|---|---|---|---|"]
        lines += [f"| {a} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['n_gold']} | {v['n_pred']} |"
                  for a, v in r["acts"].items()]
        lines += ["", "| span kind | precision | recall | F1 | annotated | read |", "|---|---|---|---|---|---|"]
        lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['n_gold']} | {v['n_pred']} |"
                  for k, v in r["spans"].items()]
        lines.append("")
    lines += ["## Goals (both sets together)", "", "| goal | target | reached |", "|---|---|---|"]
    for g, target in GOALS.items():
        value = result["overall"].get(g)
        lines.append(f"| {g} | {target:.2f} | {value if value is not None else 'n/a'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import subprocess

    import launch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--artifacts", type=Path, default=None, help="the bot's artifact folder (default: launch.py's)")
    p.add_argument("--label", default="", help="suffix of the result files, e.g. 'before'")
    p.add_argument("--data", type=Path, default=DATA, help="folder with dev.jsonl and casual.jsonl")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    launch_args = launch.parse_args([] if args.artifacts is None else ["--artifacts", str(args.artifacts)])
    bot, _ = launch.make_bot(launch_args)
    keys = Keys(bot.catalog, bot.vocabulary)
    sets = {name: score(bot, load(args.data / f"{name}.jsonl"), keys) for name in ("dev", "casual")}
    both = [ex for name in ("dev", "casual") for ex in load(args.data / f"{name}.jsonl")]
    overall = score(bot, both, keys)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    result = {
        "label": args.label or "current", "commit": commit, "bot": f"{bot.catalog.name} ({len(bot.catalog):,} items)",
        "protocol": __doc__.split("\n\n")[2].replace("\n", " "),
        "sets": sets,
        "overall": {"act accuracy": overall["act accuracy"], "title F1": overall["spans"].get("title", {}).get("f1"),
                    "person F1": overall["spans"].get("person", {}).get("f1"),
                    "negation scope": overall["negation scope"]},
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "reading" + (f"_{args.label}" if args.label else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    print(f"wrote {RESULTS / stem}.json and .md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
