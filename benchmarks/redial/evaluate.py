"""Offline evaluation: `python launch.py evaluate redial --dialogues FILE --out RESULT.json`.

Ranks the ReDial catalog for every benchmark sample of FILE with the pipeline the chat
serves (`launch.py --catalog redial`): the system folder's config, encoder and components
(fusion/conversations.py: load_system), each sample read as the chat reads a
conversation (benchmarks/redial/protocol.py). Reports Recall@1/10/50, MRR@10 and NDCG@10
in the `standard` and `new_items` protocols for the text alone, the first stage and,
when the system runs it, the second stage.

Without `--artifacts` the base encoder is scored alone (zero-shot, text only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

TABLE_COLS = ("recall@1", "recall@10", "recall@50", "mrr@10", "ndcg@10")


def format_table(rows: dict[str, dict]) -> str:
    """Plain-text table: one line per (variant, protocol)."""
    head = f"{'variant':<28}{'protocol':<11}" + "".join(f"{c:>10}" for c in TABLE_COLS) + f"{'targets':>9}"
    lines = [head, "-" * len(head)]
    for name, protocols in rows.items():
        for proto in ("standard", "new_items"):
            m = protocols[proto]
            lines.append(f"{name:<28}{proto:<11}" + "".join(f"{m[c]:>10.3f}" for c in TABLE_COLS)
                         + f"{m['n_targets']:>9}")
    return "\n".join(lines)


def zero_shot(catalog):
    """The base encoder alone over the whole catalog (no CF, no other term)."""
    from fusion.config import PipelineConfig
    from fusion.cooccur import CoOccurrence, CoOccurrenceCF
    from fusion.recommender import Recommender
    from retrieval.encoder import TransformerEncoder
    from retrieval.retriever import Retriever

    return Recommender(Retriever.build(catalog, TransformerEncoder(), progress=True),
                       CoOccurrenceCF(CoOccurrence.fit([], len(catalog))),
                       PipelineConfig(query="context", n_candidates=None, alpha=1.0))


def text_only(config):
    """The same pipeline with its encoder's cosine alone."""
    return config.with_(alpha=1.0, fuser=None, entity_weight=0.0, weights={}, rerank=False, mmr_lambda=None)


def variants(rec) -> dict:
    """Name -> Recommender: the text alone, the first stage, and the second stage if on."""
    out = {"text only": rec.with_config(text_only(rec.config))}
    if rec.config != text_only(rec.config):
        out["first stage"] = rec.with_config(rec.config.with_(rerank=False))
    if rec.config.rerank:
        out["second stage (served)"] = rec
    return out


def evaluate_redial(dialogues_path: Path, data_dir: Path | None, artifacts: Path | None) -> dict:
    from benchmarks.redial.protocol import build_pools, evaluate
    from fusion.conversations import load_system
    from retrieval.dialogue import recommender_samples
    from retrieval.redial import default_data_dir, fact_tokens, load_catalog_with_genres, load_dialogues

    start = time.perf_counter()
    data_dir = data_dir or default_data_dir()
    catalog = load_catalog_with_genres(data_dir)
    samples = recommender_samples(load_dialogues(dialogues_path, catalog))
    rec = load_system(artifacts, catalog, fact_tokens(catalog, data_dir)) if artifacts else zero_shot(catalog)
    scored = build_pools(rec, samples)
    rows = {name: evaluate(r, scored)[0] for name, r in variants(rec).items()}
    main_row = list(rows.values())[-1]
    return {**main_row, "config": rec.config.to_dict(), "variants": rows, "dialogues": str(dialogues_path),
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv: Sequence[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(prog="launch.py evaluate", description="Offline evaluations.")
    sub = p.add_subparsers(dest="benchmark", required=True)
    r = sub.add_parser("redial", help="ReDial conversational recommendation benchmark")
    r.add_argument("--dialogues", type=Path, required=True, help="ReDial JSON lines (e.g. valid.jsonl)")
    r.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    r.add_argument("--artifacts", type=Path, default=None,
                   help="system folder from `python -m benchmarks.redial` (default: zero-shot base encoder)")
    r.add_argument("--data-dir", type=Path, default=None,
                   help="ReDial folder with the catalog (default: ../shared/data/redial)")
    args = p.parse_args(list(argv))
    from retrieval.artifacts import StaleArtifactError
    from retrieval.loaders import DataError

    try:
        result = evaluate_redial(args.dialogues, args.data_dir, args.artifacts)
    except (DataError, FileNotFoundError, StaleArtifactError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(result["variants"]))
    print(f"evaluated {result['standard']['n_samples']} samples in {result['seconds']:.0f} s; "
          f"wrote {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0
