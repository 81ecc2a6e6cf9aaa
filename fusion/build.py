"""Assemble a `Recommender` from data and an artifact folder, building what is missing.

Layout of an artifact folder: `text/` (item vectors + FAISS index), `cf/` (CF model) and,
once tuned, `fusion/` (the chosen CF model, fuser and MMR λ), each with its own manifest.
A CF folder holding another model or format than the strategy names is refitted (seconds).
A folder built for another catalog, interaction log or encoder is rebuilt when `rebuild`
is set, else refused with a message that says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from fusion.recommender import FusionConfig, Recommender
from fusion.strategy import DEFAULT, load_or_fit_cf, load_strategy
from retrieval.artifacts import StaleArtifactError, jsonable, read_manifest
from retrieval.encoder import Encoder
from retrieval.records import Catalog, Interactions
from retrieval.retriever import Retriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    built: tuple[str, ...]  # parts built this time ("text", "cf"); empty when all reused
    seconds: float


def load_or_build(catalog: Catalog, interactions: Interactions, encoder: Encoder, folder: Path,
                  config: FusionConfig = FusionConfig(), rebuild: bool = False,
                  progress: bool = True, finetune: bool = False,
                  tune: bool = False) -> tuple[Recommender, BuildReport]:
    """`finetune`: first fine-tune the (transformer) encoder on this catalog's interaction
    log into `<folder>/encoder/` (reused on later runs; see retrieval/finetune.py) and
    embed the catalog with the fine-tuned model. `tune`: when no tuned strategy exists
    (or the text part was rebuilt), tune CF model, fuser and MMR λ on validation users
    (fusion/tune.py) and save it in `<folder>/fusion/`."""
    start = time.perf_counter()
    built: list[str] = []
    text_dir, cf_dir = folder / "text", folder / "cf"

    def stale(part: Path) -> bool:
        return not (part / "manifest.json").exists()

    text_stale = rebuild or stale(text_dir)
    if finetune and hasattr(encoder, "model_dir"):  # a fake encoder has nothing to train
        encoder, trained = _finetuned(catalog, interactions, encoder, folder / "encoder", rebuild, progress)
        if trained:
            built.append("encoder")
        # vectors of a retrained encoder, or of another one (e.g. built with --no-finetune)
        text_stale = text_stale or trained or _other_encoder(text_dir, encoder)
    if text_stale:
        retriever = Retriever.build(catalog, encoder, progress=progress)
        retriever.save(text_dir)
        built.append("text")
    else:
        retriever = _load(lambda: Retriever.load(text_dir, catalog, encoder))
    # CF model, fuser and MMR λ come from the tuned strategy (`python -m fusion.tune` writes
    # <folder>/fusion/manifest.json); without one: item-kNN and fixed α = config.alpha.
    tuned = load_strategy(folder / "fusion", catalog, interactions)
    if tune and (tuned is None or "text" in built):
        from fusion.tune import can_tune, tune_and_save

        if can_tune(interactions):
            tune_and_save(catalog, interactions, retriever, folder / "fusion")
            tuned = load_strategy(folder / "fusion", catalog, interactions)
            built.append("fusion")
        else:
            log.warning("too few users to tune the fusion strategy; using item-kNN and fixed alpha")
    strategy = tuned or DEFAULT
    cf, fitted = _load(lambda: load_or_fit_cf(cf_dir, strategy, catalog, interactions, refit=rebuild))
    if fitted:
        built.append("cf")
    if tuned is not None and config.mmr_lambda is None and tuned.mmr_lambda is not None:
        config = replace(config, mmr_lambda=tuned.mmr_lambda)
    report = BuildReport(tuple(built), time.perf_counter() - start)
    fuser = tuned.make_fuser() if tuned is not None else None
    return Recommender(retriever, cf, config, fuser=fuser), report


def _finetuned(catalog: Catalog, interactions: Interactions, encoder, out_dir: Path, rebuild: bool,
               progress: bool):
    """The encoder fine-tuned on the interactions (trained now or reused) and whether it was trained."""
    from retrieval.encoder import TransformerEncoder
    from retrieval.finetune import finetune_on_interactions

    model_dir, trained = finetune_on_interactions(catalog, interactions, encoder.model_dir, out_dir,
                                                  rebuild=rebuild, progress=progress)
    return TransformerEncoder(model_dir, max_length=encoder.max_length), trained


def _other_encoder(text_dir: Path, encoder: Encoder) -> bool:
    """True when text/ holds vectors of another encoder (e.g. built with --no-finetune)."""
    if not (text_dir / "manifest.json").exists():
        return False
    have = read_manifest(text_dir).get("config", {}).get("encoder")
    return have != jsonable(encoder.describe())


def _load(fn):
    try:
        return fn()
    except StaleArtifactError:
        raise
    except Exception as e:  # a truncated or corrupt file: say which folder to rebuild
        raise StaleArtifactError(f"could not load artifacts ({type(e).__name__}: {e}); "
                                 "run launch.py with --rebuild") from e
