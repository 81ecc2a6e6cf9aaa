"""Assemble a `Recommender` from data and an artifact folder, building what is missing.

Layout of an artifact folder: `text/` (item vectors + FAISS index), `cf/` (CF model) and,
once tuned, `fusion/` (the tuned pipeline config: CF model, fuser, MMR λ; fusion/config.py),
each with its own manifest. A CF folder holding another model or format than the config
names is refitted (seconds).
A folder built for another catalog, interaction log or encoder is rebuilt when `rebuild`
is set, else refused with a message that says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from fusion.cf import CFModel, fingerprints, load_cf, make_cf, stored_model_matches
from fusion.config import PipelineConfig, load_config
from fusion.recommender import Recommender
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
                  config: PipelineConfig = PipelineConfig(), rebuild: bool = False,
                  progress: bool = True, finetune: bool = False,
                  tune: bool = False) -> tuple[Recommender, BuildReport]:
    """`finetune`: first fine-tune the (transformer) encoder on this catalog's interaction
    log into `<folder>/encoder/` (reused on later runs; see retrieval/finetune.py) and
    embed the catalog with the fine-tuned model. `tune`: when no tuned config exists
    (or the text part was rebuilt), tune CF model, fuser and MMR λ on validation users
    (fusion/tune.py) and save the config in `<folder>/fusion/`; `config` applies when
    there is none."""
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
    # CF model, fuser and MMR λ come from the tuned config (`python -m fusion.tune` writes
    # <folder>/fusion/manifest.json); without one, `config` (item-kNN, fixed α).
    tuned = load_tuned(folder / "fusion", catalog, interactions)
    if tune and (tuned is None or "text" in built):
        from fusion.tune import can_tune, tune_and_save

        if can_tune(interactions):
            tuned = tune_and_save(catalog, interactions, retriever, folder / "fusion", config=config).config
            built.append("fusion")
        else:
            log.warning("too few users to tune the pipeline; using item-kNN and fixed alpha")
    config = tuned or config
    cf, fitted = _load(lambda: load_or_fit_cf(cf_dir, config, catalog, interactions, refit=rebuild))
    if fitted:
        built.append("cf")
    return Recommender(retriever, cf, config), BuildReport(tuple(built), time.perf_counter() - start)


def load_tuned(folder: Path, catalog: Catalog, interactions: Interactions) -> PipelineConfig | None:
    """The tuned config in `folder`, None when none was tuned; one tuned on other data
    raises StaleArtifactError (rerun `python -m fusion.tune`)."""
    if not (folder / "manifest.json").exists():
        return None
    return load_config(folder, fingerprints(catalog, interactions))[0]


def load_or_fit_cf(folder: Path, config: PipelineConfig, catalog: Catalog, interactions: Interactions,
                   refit: bool = False) -> tuple[CFModel, bool]:
    """(CF model, whether it was fitted now): the stored model when it is the one the
    config names (same params, same data), else fit it and save it into `folder`."""
    if not refit and stored_model_matches(folder, config.cf_model, dict(config.cf_params)):
        return load_cf(folder, catalog, interactions), False
    model = make_cf(config.cf_model, interactions, len(catalog), **config.cf_params)
    model.save(folder, catalog, interactions)
    return model, True


def _finetuned(catalog: Catalog, interactions: Interactions, encoder, out_dir: Path, rebuild: bool,
               progress: bool):
    """The encoder fine-tuned on the interactions (trained now or reused) and whether it was
    trained. The users that tuning and the cold-start benchmark hold out are left out of
    its pairs, so neither scores an encoder that has seen their ratings."""
    from fusion.tune import training_users
    from retrieval.encoder import TransformerEncoder
    from retrieval.finetune import finetune_on_interactions

    model_dir, trained = finetune_on_interactions(catalog, training_users(catalog, interactions), encoder.model_dir,
                                                  out_dir, rebuild=rebuild, progress=progress)
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
