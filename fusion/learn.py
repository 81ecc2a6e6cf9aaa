"""Learning from the bot's own logged sessions: training signal out, a new artifact folder.

From `LoggedSession`s (bot/offline/learn.py reads them from the logbook, consent respected):

- CF interactions (`log_interactions`): each like as a rating of `like_weight` (the top of
  the 1-5 scale), each dislike as `dislike_weight` (the bottom: what a 1-star rating is in
  the base log, so a person's taste, their ratings above their own mean, is their likes),
  and the top items of a reply the person rated 4-5 as a weaker `rated_list_weight`;
  keyed by whose taste it is (`LoggedSession.taste_key`: known user, study participant or
  the session alone). A (user, item) the base log already rates keeps its base rating.
- co-occurrence baskets (`session_baskets`): the items one session liked together, fitted
  as a `CoOccurrence` (fusion/cooccur.py) and served as the "logbook" term, its weight
  chosen on the held-out sessions (fusion/logbook_term.py) and written into the new
  folder's pipeline config (`fusion/`);
- encoder pairs: retrieval/pairs.py `log_pairs` (context -> liked item, disliked item as
  the hard negative), written beside them for fine-tuning.

`learn` refits what is learnable in seconds (the CF model the pipeline config names, on
the base interactions plus the learned ones; the co-occurrence) into a NEW folder, copying
what is unchanged (text index, encoder, tuned config) and never writing to the serving
one, then ranks held-out logged sessions with the old and the new pipeline. `refit` is
the same step in memory, for long-term simulations (benchmarks/longterm.py).

What this module does NOT know: the logbook's file format, consent, chat or HTTP.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fusion.build import load_tuned, ratings_only, text_only_config, with_int8_queries, with_served_queries
from fusion.cf import fingerprints, load_cf, make_cf, stored_model_matches
from fusion.coldstart import ranking_metrics
from fusion.config import PipelineConfig
from fusion.cooccur import CoOccurrence
from fusion.logbook_term import (COOCCUR_DIR, LOGBOOK, WeightChoice, choose_weight, load_logbook_term,
                                 next_like_cases, with_logbook)
from fusion.logged import LEARNED_DIR, append, load_learned, save_learned
from fusion.terms import CoOccurTerm, popular_term
from fusion.recommender import Recommender
from retrieval.artifacts import tree_fingerprint, write_manifest
from retrieval.encoder import Encoder
from retrieval.pairs import Pair, log_pairs
from retrieval.records import Catalog, Interactions, LoggedSession, Query
from retrieval.retriever import Retriever

KIND = "learned"  # the new folder's own manifest


@dataclass(frozen=True)
class LearnConfig:
    like_weight: float = 5.0  # a like = a 5-star rating (MovieLens's top; ratings are 0.5-5)
    dislike_weight: float = 1.0  # a dislike = a 1-star rating, as a 1-star rating counts in the base log
    rated_list_min: int = 4  # a reply rated 4 or 5 (of 5) ...
    rated_list_top: int = 3  # ... lends its top 3 items (the ones a reply names in words) ...
    rated_list_weight: float = 3.0  # ... a weak rating: the person liked the list, not said which item
    holdout_share: float = 0.2  # sessions with likes held out for the before/after comparison
    seed: int = 0
    cutoff: int = 10  # Recall@10 / NDCG@10 in the comparison
    # Serve the "logbook" term at the weight the held-out sessions choose. Off by default:
    # over 20 simulated rounds it lowered NDCG@10 below the CF refit alone
    # (benchmarks/results/longterm.md, adaptive+mmr/learn against adaptive+mmr/learn-cf).
    logbook_term: bool = False


def _epoch(iso: str) -> int:
    """Unix seconds of a logbook timestamp ("2026-11-27T21:14:44.123Z"); 0 when absent."""
    if not iso:
        return 0
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def log_interactions(sessions: Sequence[LoggedSession], catalog: Catalog,
                     config: LearnConfig = LearnConfig()) -> Interactions:
    """Likes, dislikes and rated lists as weighted interactions (see the module doc); one
    event per (taste key, item), the strongest kept (a like beats a rated list, the later
    of a like and a dislike wins: sessions are read in order)."""
    events: dict[tuple[str, int], tuple[float, int]] = {}
    for s in sessions:
        key, ts = s.taste_key(), _epoch(s.started)
        reacted = {i for i, _ in (*s.liked, *s.disliked)}
        for _, rating, shown in s.rated_lists:
            if rating >= config.rated_list_min:
                for item_id in [i for i in shown if i not in reacted][:config.rated_list_top]:
                    row = catalog.row(item_id)
                    old = events.get((key, row))
                    if old is None or old[0] < config.rated_list_weight:
                        events[(key, row)] = (config.rated_list_weight, ts)
        for item_id, _ in s.disliked:
            events[(key, catalog.row(item_id))] = (config.dislike_weight, ts)
        for item_id, _ in s.liked:
            events[(key, catalog.row(item_id))] = (config.like_weight, ts)
    if not events:
        return Interactions.empty()
    keys = list(events)
    return Interactions(np.array([k for k, _ in keys], dtype=object), np.array([r for _, r in keys], np.int64),
                        np.array([events[k][0] for k in keys], np.float32),
                        np.array([events[k][1] for k in keys], np.int64))


def new_to(base: Interactions, learned: Interactions) -> Interactions:
    """The learned events whose (user, item) the base log does not rate yet."""
    if len(learned) == 0 or len(base) == 0:
        return learned
    have = set(zip(base.user_ids.tolist(), base.item_rows.tolist()))
    keep = np.array([(u, r) not in have for u, r in zip(learned.user_ids.tolist(), learned.item_rows.tolist())])
    return Interactions(learned.user_ids[keep], learned.item_rows[keep], learned.weights[keep],
                        learned.timestamps[keep])


def session_baskets(sessions: Sequence[LoggedSession], catalog: Catalog) -> list[list[int]]:
    """Rows each session liked, for sessions that liked two or more items."""
    out = []
    for s in sessions:
        rows = list(dict.fromkeys(catalog.row(i) for i, _ in s.liked))
        if len(rows) >= 2:
            out.append(rows)
    return out


def split_sessions(sessions: Sequence[LoggedSession], share: float, seed: int
                   ) -> tuple[list[LoggedSession], list[LoggedSession]]:
    """(sessions to learn from, held-out sessions): a seeded `share` of the sessions that
    liked something is held out whole (none when share is 0)."""
    with_likes = [i for i, s in enumerate(sessions) if s.liked]
    n = int(round(len(with_likes) * share)) if share > 0 else 0
    if share > 0 and with_likes:
        n = min(max(n, 1), len(with_likes) - 1) if len(with_likes) > 1 else 0
    held = {with_likes[i] for i in np.random.default_rng(seed).permutation(len(with_likes))[:n]}
    return ([s for i, s in enumerate(sessions) if i not in held], [s for i, s in enumerate(sessions) if i in held])


# --- the pipeline, read-only -------------------------------------------------------------
def load_pipeline(folder: Path, catalog: Catalog, interactions: Interactions, encoder: Encoder) -> Recommender:
    """The pipeline an artifact folder serves, loaded without writing to it (fusion/build.py's
    `load_or_build` records each load in the folder's manifest): its text index, tuned
    config and CF model (fitted in memory when the stored one is not the config's)."""
    retriever = with_served_queries(folder, Retriever.load(folder / "text", catalog, encoder))
    tuned = load_tuned(folder / "fusion", catalog, interactions) if len(interactions) else None
    config = tuned or (text_only_config(PipelineConfig()) if len(interactions) == 0 else PipelineConfig())
    log = append(interactions, load_learned(folder, catalog) or Interactions.empty())
    if stored_model_matches(folder / "cf", config.cf_model, dict(config.cf_params)):
        cf = load_cf(folder / "cf", catalog, log)
    else:
        cf = make_cf(config.cf_model, log, len(catalog), **config.cf_params)
    logbook = load_logbook_term(folder, catalog)  # a folder learned before: its co-occurrence term
    # the same terms and replay defaults as the build serves (a learned folder has no dialogues)
    terms, config = ratings_only(retriever, cf, config, tuned is not None, [logbook] if logbook is not None else [])
    return Recommender(retriever, cf, config, terms)


def refit(recommender: Recommender, log: Interactions) -> Recommender:
    """The same pipeline with its CF model (the one its config names) refitted on `log`:
    one learning step, seconds on MovieLens."""
    cf = make_cf(recommender.config.cf_model, log, len(recommender.catalog), **recommender.config.cf_params)
    # the "popular" prior follows the counts it was made from
    terms = [popular_term(cf.counts) if t.name == "popular" else t for t in recommender.terms.values()]
    return Recommender(recommender.retriever, cf, recommender.config, terms, recommender.second_stage)


def compare(old: Recommender, new: Recommender, held: Sequence[LoggedSession], cutoff: int = 10) -> dict[str, Any]:
    """Recall@cutoff and NDCG@cutoff of each held-out session's liked items, ranked by each
    pipeline from the session's own messages (and its known user or participant, when that
    pipeline's CF knows them); means over sessions, and how many sessions."""
    out: dict[str, Any] = {"sessions": 0}
    per: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for s in held:
        texts = tuple(m for m in s.messages if m.strip())
        if not texts or not s.liked:
            continue
        targets = old.catalog.rows([i for i, _ in s.liked])
        for name, rec in (("before", old), ("after", new)):
            key = s.taste_key()
            q = Query(texts=texts, user_id=key if rec.cf.knows_user(key) else None, k=cutoff)
            rows = np.array([old.catalog.row(r.item.item_id) for r in rec.recommend(q)], np.int64)
            recall, ndcg, _ = ranking_metrics(rows, targets, cutoff)
            per[name].append((recall, ndcg))
        out["sessions"] += 1
    for name, values in per.items():
        v = np.array(values, np.float64).reshape(-1, 2)
        out[name] = {f"recall@{cutoff}": float(v[:, 0].mean()) if len(v) else None,
                     f"ndcg@{cutoff}": float(v[:, 1].mean()) if len(v) else None}
    return out


# --- the command's work --------------------------------------------------------------------
@dataclass(frozen=True)
class LearnReport:
    out: Path
    sessions: int  # sessions learned from
    held_out: int  # sessions held out for the comparison
    interactions: int  # learned interactions (all rounds so far: the base folder's, if any, and these)
    new_interactions: int  # learned from these sessions
    pairs: int
    baskets: int
    comparison: dict[str, Any]
    fingerprint_before: str
    fingerprint_after: str
    seconds: float
    finetuned: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    logbook: WeightChoice | None = None  # the "logbook" co-occurrence term's weight and the figures behind it


def _write_pairs(path: Path, pairs: Sequence[Pair]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps({"query": p.query, "item_id": p.item_id, "negative_id": p.negative_id},
                               ensure_ascii=False) + "\n")


def learn(base: Path, out: Path, catalog: Catalog, interactions: Interactions, encoder: Encoder,
          sessions: Sequence[LoggedSession], config: LearnConfig = LearnConfig(),
          source: dict[str, Any] | None = None, finetune=None, progress: bool = False) -> LearnReport:
    """Learn from `sessions` into the new folder `out`, starting from the serving folder
    `base` (read only; its files are hashed before and after). `source` (e.g. the logbook
    path and --since) goes into the new manifest. `finetune` (a retrieval/finetune.py
    FinetuneConfig; minutes): also fine-tune the (transformer) encoder on the sessions'
    pairs into `out/learned/encoder/` and re-embed the catalog with it (see `_finetune`).
    ValueError when `out` exists, or is `base` or inside it."""
    start = time.perf_counter()
    base, out = Path(base), Path(out)
    if out.resolve() == base.resolve() or base.resolve() in out.resolve().parents:
        raise ValueError(f"--out {out} must be a new folder outside the serving one ({base})")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not empty: learning writes a new folder, pick another name")
    before = tree_fingerprint(base)
    old = load_pipeline(base, catalog, interactions, encoder)
    train, held = split_sessions(sessions, config.holdout_share, config.seed)
    previous = load_learned(base, catalog) or Interactions.empty()
    done = set(json.loads((base / LEARNED_DIR / "sessions.json").read_text())
               if (base / LEARNED_DIR / "sessions.json").exists() else [])
    fresh = [s for s in train if s.session_id not in done]  # a session learned by an earlier run counts once
    new_events = new_to(append(interactions, previous), log_interactions(fresh, catalog, config))
    learned = append(previous, new_events)
    new = refit(old, append(interactions, learned))
    pairs = log_pairs(fresh, catalog, seed=config.seed)
    baskets = session_baskets(fresh, catalog)
    old_baskets = _read_baskets(base / LEARNED_DIR)
    all_baskets = old_baskets + baskets
    cooccur = CoOccurrence.fit(all_baskets, len(catalog))
    # the "logbook" term's weight, chosen on the held-out sessions' later likes (0 allowed)
    term = CoOccurTerm(LOGBOOK, cooccur)
    choice = choose_weight(new, term, next_like_cases(held, catalog, new.cf.knows_user, config.cutoff),
                           cutoff=config.cutoff)
    if not config.logbook_term:
        choice = replace(choice, weight=0.0, found=choice.weight)
    new = with_logbook(new, term, choice.weight)
    # the new folder, written under a temporary name and renamed when complete (a failed
    # run leaves nothing half-written): everything but cf/, learned/ and the manifest copied
    final, out = out, out.parent / f".{out.name}.partial"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    try:
        for part in sorted(base.iterdir()):
            if part.is_dir() and part.name not in ("cf", LEARNED_DIR):
                shutil.copytree(part, out / part.name)
        new.cf.save(out / "cf", catalog, append(interactions, learned))
        part = out / LEARNED_DIR
        part.mkdir()
        _write_pairs(part / "pairs.jsonl", pairs)
        (part / "sessions.json").write_text(json.dumps(sorted(done | {s.session_id for s in fresh})))
        np.savez(part / "baskets.npz", rows=np.array([r for b in all_baskets for r in b], np.int64),
                 offsets=np.cumsum([0] + [len(b) for b in all_baskets]).astype(np.int64))
        cooccur.save(part / COOCCUR_DIR, {"catalog": catalog.fingerprint()},
                     {"source": "items liked together in a logged session", "baskets": len(all_baskets)})
        _save_pipeline(base, out, new.config, catalog, interactions, choice)
        save_learned(out, catalog, learned, {"learn": asdict(config), "source": source or {},
                                             "sessions": len(fresh), "held_out": len(held), "pairs": len(pairs),
                                             "base": str(base), "base_fingerprint": before})
        finetuned = False
        if finetune is not None:
            new = _finetune(new, pairs, log_pairs(held, catalog, seed=config.seed), encoder, out, finetune, progress)
            finetuned = True
        comparison = compare(old, new, held, config.cutoff)
        write_manifest(out, KIND, fingerprints(catalog, interactions),
                       {"base": str(base), "comparison": comparison, "learned_interactions": len(learned),
                        LOGBOOK: choice.to_dict()})
        after = tree_fingerprint(base)
        if after != before:  # never expected: say so loudly rather than serve a changed folder
            raise RuntimeError(f"{base} changed while learning (fingerprint {before[:12]}… -> {after[:12]}…)")
        fingerprint = tree_fingerprint(out)
        if final.exists():
            final.rmdir()  # empty (checked at the start)
        out.rename(final)
        return LearnReport(final, len(fresh), len(held), len(learned), len(new_events), len(pairs), len(all_baskets),
                           comparison, before, fingerprint, time.perf_counter() - start, finetuned, logbook=choice)

    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def _finetune(rec: Recommender, train: Sequence[Pair], valid: Sequence[Pair], encoder: Encoder, out: Path,
              config, progress: bool) -> Recommender:
    """Fine-tune the pipeline's encoder (its weights folder: the serving folder's encoder/,
    or the base model) on the logged pairs into `out/learned/encoder/` (early stopping on
    the held-out sessions' pairs, else a share of the training pairs), re-embed the catalog
    into `out/text/`; the pipeline with the new retriever. fusion/build.py serves a folder's
    `learned/encoder/` in place of the catalog fine-tune."""
    from retrieval.encoder import TransformerEncoder
    from retrieval.finetune import finetune
    from retrieval.pairs import split_pairs

    if not hasattr(encoder, "model_dir"):
        raise ValueError(f"the {encoder.describe().get('kind', 'given')} encoder has no weights to fine-tune")
    if not train:
        raise ValueError("no encoder pairs in the sessions learned from (no likes): nothing to fine-tune on")
    if not valid:
        # a tenth of the pairs for early stopping, at least one
        train, valid = split_pairs(train, valid_share=max(0.1, 1.0 / max(len(train), 1)), seed=config.seed)
        if not valid:
            raise ValueError("too few encoder pairs to hold some out for early stopping")
    target = out / LEARNED_DIR / "encoder"
    catalog = rec.catalog
    finetune(encoder.model_dir, train, valid, {it.item_id: it.text for it in catalog.items}, target, config,
             progress=progress, extra_manifest={"catalog": catalog.fingerprint(), "pairs": "logged sessions"})
    tuned = TransformerEncoder(target, max_length=encoder.max_length)
    shutil.rmtree(out / "text", ignore_errors=True)
    retriever = Retriever.build(catalog, tuned, progress=progress)
    retriever.save(out / "text")
    if getattr(rec.retriever.query_encoder, "int8", False):  # queries heard as the served folder hears them
        retriever = with_int8_queries(retriever)
    return Recommender(retriever, rec.cf, rec.config, list(rec.terms.values()), rec.second_stage)


def _save_pipeline(base: Path, out: Path, config: PipelineConfig, catalog: Catalog, interactions: Interactions,
                   choice: WeightChoice) -> None:
    """The new folder's pipeline config (`out/fusion/`, what fusion/build.py serves): the
    base folder's, its fingerprints, validation figures and extras kept, with the
    "logbook" weight and the figures that chose it."""
    from fusion.config import save_config
    from retrieval.artifacts import read_manifest

    fps, entry = fingerprints(catalog, interactions), {}
    if (base / "fusion" / "manifest.json").exists():
        manifest = read_manifest(base / "fusion")
        fps, entry = manifest.get("fingerprints") or fps, manifest.get("config") or {}
    extras = {k: v for k, v in entry.items() if k not in ("pipeline", "validation", LOGBOOK)}
    save_config(out / "fusion", config, fps, entry.get("validation"), **extras, **{LOGBOOK: choice.to_dict()})


def _read_baskets(folder: Path) -> list[list[int]]:
    path = folder / "baskets.npz"
    if not path.exists():
        return []
    with np.load(path, allow_pickle=False) as z:
        rows, offsets = z["rows"], z["offsets"]
    return [rows[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


def report_lines(r: LearnReport) -> list[str]:
    """What the command prints: counts, the comparison, the fingerprints."""
    c = r.comparison
    lines = [f"learned from {r.sessions} sessions ({r.held_out} held out): {r.new_interactions} new interactions "
             f"({r.interactions} learned in all), {r.pairs} encoder pairs, {r.baskets} co-liked baskets "
             f"in {r.seconds:.1f} s -> {r.out}"]
    if c.get("sessions"):
        keys = list(c["before"])
        lines.append(f"held-out sessions ({c['sessions']}): " + "; ".join(
            f"{k} {c['before'][k]:.3f} -> {c['after'][k]:.3f}" for k in keys))
    else:
        lines.append("no held-out session with likes: nothing to compare (more sessions, or --holdout > 0)")
    if r.logbook is not None:
        lines.append(r.logbook.line() + " (chosen on the same held-out sessions the comparison reads: the 'after' "
                     "figures include that choice)")
    lines.append(f"artifacts fingerprint {r.fingerprint_before[:12]}… (serving, unchanged) -> "
                 f"{r.fingerprint_after[:12]}… (new)")
    return lines
