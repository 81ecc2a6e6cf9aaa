"""Assemble a `Recommender` from data and an artifact folder, building what is missing.

Layout of an artifact folder: `text/` (item vectors + FAISS index), `cf/` (CF model) and,
once tuned, `fusion/` (the tuned pipeline config: CF model, fuser, MMR λ; fusion/config.py),
each with its own manifest; the folder's own `manifest.json` (kind "build") records the
last build's stages: built, reused or skipped and why, seconds, and the pipeline config. A CF folder holding another model or format than the config
names is refitted (seconds). `catalog_updates/` holds the changes made to the catalog
while serving (fusion/catalog_log.py), replayed over what this module loads.
A folder built for another catalog, interaction log or encoder is rebuilt when `rebuild`
is set, else refused with a message that says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from fusion.cf import CFModel, fingerprints, load_cf, make_cf, stored_model_matches
from fusion.choices import CONVERSATIONS, RATINGS
from fusion.config import PipelineConfig, load_config, save_config
from fusion.logbook_term import LOGBOOK, chosen_weight, load_logbook_term
from fusion.logged import LEARNED_DIR, with_learned
from fusion.recommender import Recommender
from fusion.stages import Stages, estimate_encode_seconds
from retrieval.artifacts import (OutdatedArtifactError, StaleArtifactError, json_fingerprint, jsonable,
                                 read_manifest, write_manifest)
from retrieval.encoder import Encoder
from retrieval.dialogue import Dialogue
from retrieval.records import Catalog, Interactions
from retrieval.retriever import Retriever

STAGES = ("fine-tuning", "encoding", "tuning", "cf", "conversations")
KIND = "build"  # the folder's own manifest: what each stage did, skipped and why


@dataclass(frozen=True)
class Conversations:
    """Dialogues whose turns name this catalog's items (retrieval/dialogue.py), for a build
    that learns from them: `fit` trains (encoder pairs, co-occurrence, priors, head),
    `dev` tunes the weights of what they taught (`tune`, e.g. bot/offline/replay.py
    `tune_on_dialogues`: recommender, dev dialogues -> (config, report))."""

    fit: Sequence[Dialogue]
    dev: Sequence[Dialogue]
    source: str  # one line for the build report: where they came from, how many linked
    tune: Callable[..., tuple[PipelineConfig, dict]] | None = None
    tune_fingerprint: str = ""  # what the tuner searches: a saved tuning for another search is redone


@dataclass(frozen=True)
class BuildReport:
    built: tuple[str, ...]  # parts built this time ("text", "cf"); empty when all reused
    seconds: float
    skipped: Mapping[str, str] = field(default_factory=dict)  # stage -> why it was skipped
    cpu_seconds: float = 0.0  # process CPU time (all threads): the work, apart from waiting on shared cores
    summary: str = ""  # the one line the build printed last
    text_only: bool = False  # no interactions: CF off, alpha = 1


def text_only_config(config: PipelineConfig) -> PipelineConfig:
    """The pipeline of a catalog without interactions: text alone (alpha = 1), the
    `NoInteractions` CF model, no CF candidates; everything else as `config` says."""
    return config.with_(cf_model="none", cf_params={}, alpha=1.0, fuser=None, n_cf_candidates=0)


def load_or_build(catalog: Catalog, interactions: Interactions, encoder: Encoder, folder: Path,
                  config: PipelineConfig = PipelineConfig(), rebuild: bool = False,
                  progress: bool = True, finetune: bool = False,
                  tune: bool = False, finetune_config=None,
                  conversations: Conversations | None = None,
                  int8_queries: bool = False, choices=None) -> tuple[Recommender, BuildReport]:
    """`finetune`: first fine-tune the (transformer) encoder on this catalog's interaction
    log into `<folder>/encoder/` (reused on later runs; see retrieval/finetune.py, whose
    `finetune_config` recipe defaults to CATALOG_RECIPE) and embed the catalog with the
    fine-tuned model; skipped, saying why, when the log is below retrieval/finetune.py's
    minimums. `tune`: when no tuned config exists (or the text part was rebuilt), tune CF
    model, fuser and MMR λ on validation users (fusion/tune.py) and save the config in
    `<folder>/fusion/`; skipped below fusion/tune.py's minimums; `config` applies when
    there is none. `int8_queries`: what people say is embedded by an int8 copy of the
    (transformer) encoder (retrieval/encoder.py quantize_int8: about half the CPU time of
    a turn), the items keep their float32 vectors; tuning embeds its requests the same
    way. Empty `interactions`: text only (`text_only_config`), nothing to
    fine-tune or tune on. `conversations`: the fine-tune also reads their pairs, and
    what they teach (co-occurrence, recommendation priors, head, nearest contexts;
    fusion/conversations.py) is fitted into `<folder>/conversations/` and weighted as
    tuned on their dev split (`<folder>/conversations/tuned/`); without them the
    pipeline learns from ratings alone, and the build says so. `choices` (fusion/choices.py
    ShippedChoices): tuned configs made at development time for a recipe; where the build's
    recipe is that one, tuning takes them instead of searching. With `progress`, prints a
    heading per stage (with an ETA for the long ones) and a closing one-line summary;
    `<folder>/manifest.json` records it."""
    stages = Stages(STAGES, progress)
    built: list[str] = []
    text_dir, cf_dir = folder / "text", folder / "cf"
    text_only = len(interactions) == 0
    if text_only:
        config = text_only_config(config)

    def stale(part: Path) -> bool:
        return not (part / "manifest.json").exists()

    text_stale = rebuild or stale(text_dir)
    recipe = _recipe(catalog, interactions, encoder, finetune and not text_only, finetune_config, conversations,
                     config, int8_queries)
    # 1. fine-tuning (a folder written by `python -m bot.offline.learn --finetune-encoder` serves
    # the encoder it fine-tuned on logged sessions, whose vectors are in text/)
    learned_encoder = folder / LEARNED_DIR / "encoder"
    if (learned_encoder / "config.json").exists() and hasattr(encoder, "model_dir"):
        from retrieval.encoder import TransformerEncoder

        encoder = TransformerEncoder(learned_encoder, max_length=encoder.max_length)
        stages.done("fine-tuning", "reused", f"fine-tuned on logged sessions: {learned_encoder}")
    elif not finetune:
        stages.skip("fine-tuning", "not asked for (--no-finetune)")
    elif text_only:
        stages.skip("fine-tuning", "no interactions to learn from")
    elif not hasattr(encoder, "model_dir"):  # a fake encoder has nothing to train
        stages.skip("fine-tuning", f"the {encoder.describe().get('kind', 'given')} encoder has no weights to train")
    else:
        tuned_encoder, trained, why = _finetuned(catalog, interactions, encoder, folder / "encoder", rebuild,
                                                 progress, finetune_config, stages,
                                                 conversations.fit if conversations else ())
        if why:
            stages.skip("fine-tuning", why)
        else:
            encoder = tuned_encoder
            stages.done("fine-tuning", "built" if trained else "reused")
            if trained:
                built.append("encoder")
            # vectors of a retrained encoder, or of another one (e.g. built with --no-finetune)
            text_stale = text_stale or trained
    text_stale = text_stale or _other_encoder(text_dir, encoder)
    # 2. encoding + index (vectors built for another catalog or encoder are rebuilt)
    retriever = None
    if not text_stale:
        stages.start("encoding", f"reusing the vectors of {len(catalog):,} {catalog.kind.plural} in {text_dir}")
        retriever, outdated = _unless_outdated(lambda: Retriever.load(text_dir, catalog, encoder))
        if retriever is not None:
            stages.done("encoding", "reused")
        elif progress:
            print(f"  rebuilding: {outdated}", flush=True)
    if retriever is None:
        texts = catalog.texts()
        eta = estimate_encode_seconds(encoder.encode, texts) if progress else None
        if _encode_with_ray(encoder, len(texts)):
            from functools import partial

            from retrieval.batch_encode import build_text_folder
            from retrieval.encoder import TransformerEncoder

            stages.start("encoding", f"encoding {len(texts):,} {catalog.kind.plural} through Ray Data", eta)
            retriever = build_text_folder(catalog, partial(TransformerEncoder, encoder.model_dir, encoder.max_length),
                                          text_dir, "ray")
        else:
            stages.start("encoding", f"encoding {len(texts):,} {catalog.kind.plural}", eta)
            retriever = Retriever.build(catalog, encoder, progress=progress)
            retriever.save(text_dir)
        built.append("text")
        stages.done("encoding", "built", f"{len(texts):,} items")
    if int8_queries:
        retriever = with_int8_queries(retriever)
    # 3. tuning: CF model, fuser and MMR λ come from the tuned config (`python -m
    # fusion.tune` writes <folder>/fusion/manifest.json); without one, `config`.
    tuned, outdated = (None, "") if text_only else _unless_outdated(
        lambda: load_tuned(folder / "fusion", catalog, interactions))
    if outdated and progress:
        print(f"  not reused: {outdated}", flush=True)
    if text_only:
        stages.skip("tuning", "no interactions to tune on: text only, alpha = 1")
    elif tuned is not None and (not tune or "text" not in built):
        stages.done("tuning", "reused")
    elif not tune:
        stages.skip("tuning", "not asked for (--no-tune)")
    else:
        from fusion.tune import tune_and_save, tune_readiness

        why = tune_readiness(interactions)
        shipped, not_shipped = choices.get(RATINGS, recipe) if choices is not None else (None, "")
        if why:
            stages.skip("tuning", f"{why}; using {config.cf_model} and fixed alpha {config.alpha}")
        elif shipped is not None:
            stages.start("tuning", "CF model, fuser and MMR as tuned at development time on the same data and "
                                   "recipe (shipped: retrieval/data/movielens_choices.json)")
            save_config(folder / "fusion", shipped.config, fingerprints(catalog, interactions),
                        {**shipped.validation, "shipped": choices.made})
            tuned = shipped.config
            stages.done("tuning", "shipped")
        else:
            if not_shipped and progress:
                print(f"  tuning here: {not_shipped}", flush=True)
            stages.start("tuning", f"tuning CF model, fuser and MMR on validation users of {len(interactions):,} "
                                   "interactions")
            tuned = tune_and_save(catalog, interactions, retriever, folder / "fusion", config=config).config
            built.append("fusion")
            stages.done("tuning", "built")
    config = tuned or config
    # 4. CF
    # A folder written by `python -m bot.offline.learn` fits CF on the interactions plus those it
    # learned from logged sessions (fusion/logged.py); any other folder on the interactions.
    cf_log = _load(lambda: with_learned(folder, catalog, interactions))
    stages.start("cf", f"CF model {config.cf_model} on {len(cf_log):,} interactions")
    cf, fitted = _load(lambda: load_or_fit_cf(cf_dir, config, catalog, cf_log, refit=rebuild))
    if fitted:
        built.append("cf")
    stages.done("cf", "built" if fitted else "reused")
    # 5. conversations (and, in a folder written by `python -m bot.offline.learn`, the items its
    # logged sessions liked together: the "logbook" term, weighted by its pipeline config)
    conversation_report: dict = {}
    if conversations is None:
        terms, config = ratings_pipeline(folder, retriever, cf, config, tuned is not None, text_only)
        stages.skip("conversations", "no dialogues (the default catalog ships ReDial's; --dialogues FILE adds yours): "
                                     "learning from ratings alone")
    else:
        # the search starts from the ratings-only pipeline (its terms and weights): what the
        # conversations teach is added where the dev replay rewards it
        terms, config = ratings_pipeline(folder, retriever, cf, config, tuned is not None, text_only)
        terms = [t for t in terms if t.name == LOGBOOK]  # the others: learnt_terms
        stages.start("conversations", f"learning from conversations: {conversations.source}")
        shipped = (choices.get(CONVERSATIONS, recipe) if choices is not None and tune else (None, ""))
        config, terms, conversation_report = _conversations(conversations, catalog, interactions, encoder, retriever,
                                                            cf, config, folder / "conversations", progress, terms,
                                                            shipped, choices.made if choices is not None else "")
        built += conversation_report["built"]
        stages.done("conversations", "built" if conversation_report["built"] else "reused",
                    conversation_report.get("summary", ""))
    what = (f"{catalog.name}: {len(catalog):,} {catalog.kind.plural}, {len(interactions):,} interactions"
            + (f", {len(conversations.fit) + len(conversations.dev):,} dialogues" if conversations else "")
            + (" (text only)" if text_only else "") + (f"; built {', '.join(built)}" if built else "; reused all"))
    summary = stages.summary(what)
    if progress:
        print(summary, flush=True)
    wall, cpu = stages.seconds()
    write_manifest(folder, KIND, fingerprints(catalog, interactions),
                   {**stages.to_dict(), "built": built, "text_only": text_only, "pipeline": config.to_dict(),
                    "recipe": recipe,
                    "queries": retriever.query_encoder.describe(),
                    "conversations": {k: v for k, v in conversation_report.items() if k != "built"}})
    return Recommender(retriever, cf, config, terms), BuildReport(tuple(built), wall, stages.skipped(), cpu, summary,
                                                                  text_only)


def _recipe(catalog: Catalog, interactions: Interactions, encoder: Encoder, finetunes: bool, finetune_config,
            conversations: Conversations | None, config: PipelineConfig, int8_queries: bool) -> dict[str, str]:
    """fusion/choices.py build_recipe for this build's arguments."""
    from fusion.choices import build_recipe
    from retrieval.encoder import model_identity
    from retrieval.finetune import CATALOG_PAIRS, CATALOG_RECIPE, DIALOGUE_PAIRS

    base = model_identity(encoder.model_dir) if hasattr(encoder, "model_dir") else json.dumps(
        jsonable(encoder.describe()), sort_keys=True)
    recipe = ({**asdict(finetune_config or CATALOG_RECIPE), "pairs": CATALOG_PAIRS, "dialogue_pairs": DIALOGUE_PAIRS}
              if finetunes else None)
    return build_recipe(catalog, interactions, base, recipe, conversations, config, int8_queries)


def ratings_pipeline(folder: Path, retriever: Retriever, cf: CFModel, config: PipelineConfig, tuned: bool,
                     text_only: bool = False) -> tuple[list, PipelineConfig]:
    """(terms, config) that a build of `folder` without dialogues serves over `cf`: the
    folder's "logbook" term (`_logbook`), then `ratings_only`. `load_or_build` (so
    `make run`) and the cold-start benchmark's shipped row (there with CF fitted on its
    training users) both assemble the pipeline here, so the benchmark scores what the
    chat serves."""
    terms, config = _logbook(folder, retriever.catalog, config, text_only)
    return ratings_only(retriever, cf, config, tuned, terms)


def learnt_pipeline(folder: Path, retriever: Retriever, cf: CFModel) -> tuple[list, PipelineConfig] | None:
    """(terms, config) that a build of `folder` which learnt from conversations serves over
    `cf` (the parts and the weights tuned for them in `<folder>/conversations/`, then the
    "popular" prior of `cf`'s counts and the folder's "logbook" term, as `load_or_build`
    assembles them); None for a folder built without dialogues. The cold-start benchmark's
    shipped row reads the default bot through it."""
    tuned = folder / "conversations" / TUNED
    if not (tuned / "manifest.json").exists():
        return None
    logbook, _ = _logbook(folder, retriever.catalog, PipelineConfig(), False)
    return learnt_terms(folder / "conversations", retriever, cf, logbook), load_config(tuned)[0]


def learnt_terms(folder: Path, retriever: Retriever, cf: CFModel, extra_terms: Sequence = ()) -> list:
    """The terms of a pipeline that learnt from conversations (parts in `folder`): what
    they teach, the request terms, the "popular" prior of `cf`'s counts (as the ratings-only
    pipeline has it) and `extra_terms` (e.g. the logbook's)."""
    from fusion.conversations import conversation_terms
    from fusion.terms import popular_term

    popular = [popular_term(cf.counts)] if np.asarray(cf.counts).any() else []
    return (conversation_terms(folder, retriever.catalog, retriever.item_vectors, cooccur_term=True) + popular
            + list(extra_terms))


def _logbook(folder: Path, catalog: Catalog, config: PipelineConfig, text_only: bool) -> tuple[list, PipelineConfig]:
    """([the "logbook" term] when `python -m bot.offline.learn` wrote one into `folder`, else [],
    config): a text-only build reads no tuned config, so there the weight the learn step
    chose joins the config here."""
    logbook = _load(lambda: load_logbook_term(folder, catalog))
    if logbook is None:
        return [], config
    if text_only:
        config = config.with_(weights={**dict(config.weights), LOGBOOK: chosen_weight(folder)})
    return [logbook], config


def served_retriever(catalog: Catalog, folder: Path, model_dir: Path | None = None) -> Retriever:
    """The text part of the pipeline `folder` serves, for the tools that load a built
    folder beside the bot (the cold-start and long-term benchmarks, `python -m
    fusion.tune`): the encoder its text manifest names, over `<folder>/encoder/` when the
    build fine-tuned one (else `model_dir`, the base model when None), its item vectors
    (encoded now when they do not match), and queries embedded at the precision its last
    build served them (`int8_queries`), so requests are heard as the chat hears them."""
    from fusion.tune import load_text

    return with_served_queries(folder, load_text(catalog, served_encoder(folder, model_dir), folder / "text"))


def with_served_queries(folder: Path, retriever: Retriever) -> Retriever:
    """`retriever` embedding queries at the precision `folder`'s last build served them
    (`load_or_build(int8_queries=)`, recorded in its manifest); never built: as the items."""
    try:
        queries = read_manifest(folder).get("config", {}).get("queries", {})
    except StaleArtifactError:
        queries = {}
    return with_int8_queries(retriever) if queries.get("precision") == "int8" else retriever


def with_int8_queries(retriever: Retriever) -> Retriever:
    """`retriever` with queries embedded by an int8 copy of its (transformer) item encoder;
    as it is when the encoder has no weights to quantize (a fake)."""
    if not hasattr(retriever.encoder, "with_precision"):
        return retriever
    return retriever.with_query_encoder(retriever.encoder.with_precision(True))


def served_encoder(folder: Path, model_dir: Path | None = None):
    """The encoder `folder`'s item vectors were built with, as its text manifest describes
    it (max_length, precision), over `<folder>/encoder/` when the build fine-tuned one,
    else `model_dir` (the base model when None). Before any build: the float32 model."""
    from retrieval.encoder import TransformerEncoder

    tuned = folder / "encoder"
    weights = tuned if (tuned / "config.json").exists() else model_dir
    try:
        description = read_manifest(folder / "text").get("config", {}).get("encoder", {})
    except StaleArtifactError:
        description = {}
    if description.get("kind", "transformer") != "transformer":
        description = {}
    return TransformerEncoder.described(description, weights)


def built_pipeline(folder: Path) -> dict | None:
    """The pipeline config the last build of `folder` served, as its manifest records it
    (compare with `jsonable(config.to_dict())`); None when it was never built. A dict, not
    a PipelineConfig: a build by older code may record keys this one no longer knows."""
    if not (folder / "manifest.json").exists():
        return None
    return read_manifest(folder).get("config", {}).get("pipeline")


def ratings_only(retriever: Retriever, cf: CFModel, config: PipelineConfig, tuned: bool,
                 terms: Sequence = ()) -> tuple[list, PipelineConfig]:
    """(terms, config) of a pipeline without dialogues: `terms` plus the request terms and,
    when CF has counts, the "popular" prior; weighted by the replay defaults when the
    ratings were large enough to tune on (the defaults were chosen over such a config),
    else unweighted; the topics term weighs TOPIC_WEIGHT in both."""
    from fusion.config import REPLAY_DEFAULTS, TOPIC_WEIGHT, with_replay_defaults
    from fusion.terms import popular_term, request_terms

    out = [*terms, *request_terms(retriever.catalog, retriever.item_vectors)]
    if np.asarray(cf.counts).any():
        out.append(popular_term(cf.counts))
    # what an item is about counts in any catalog (a topic asked for is rare and specific)
    config = config.with_(weights={"topics": TOPIC_WEIGHT, **config.weights})
    if not tuned or set(REPLAY_DEFAULTS.get("weights", {})) - {t.name for t in out}:  # e.g. no counts: no "popular"
        return out, config
    return out, with_replay_defaults(config)


TUNED = "tuned"  # <folder>/conversations/tuned/: the config tuned on the dev dialogues


def _conversations(conversations: Conversations, catalog: Catalog, interactions: Interactions, encoder: Encoder,
                   retriever: Retriever, cf: CFModel, config: PipelineConfig, folder: Path, progress: bool,
                   extra_terms: Sequence = (), shipped: tuple = (None, ""), made: str = ""):
    """(config, terms, report) of a pipeline that also learns from `conversations`: its
    parts fitted (or reused) into `folder`, their weights tuned on the dev dialogues (or
    reused when parts, dev dialogues, starting config and query encoder are the same, or
    taken from `shipped`, (fusion/choices.py Choice or None, why not), when it has one)."""
    from fusion.conversations import dialogues_fingerprint, encoder_fingerprint, fit_conversation_parts

    parts = fit_conversation_parts(conversations.fit, catalog, encoder, retriever.item_vectors, folder,
                                   progress=progress)
    terms = learnt_terms(folder, retriever, cf, extra_terms)
    fps = {**fingerprints(catalog, interactions), **{f"parts_{k}": v for k, v in parts["fingerprints"].items()},
           "dev": dialogues_fingerprint(conversations.dev), "tuner": conversations.tune_fingerprint,
           "start": json_fingerprint(config.to_dict()),
           # weights chosen while requests were heard at another precision are chosen again
           "queries": encoder_fingerprint(retriever.query_encoder)}
    built = [f"conversations ({', '.join(parts['built'])})"] if parts["built"] else []
    report: dict = {"source": conversations.source, "n_fit": len(conversations.fit), "n_dev": len(conversations.dev)}
    try:
        tuned, manifest = load_config(folder / TUNED, fps)
        report["tuning"] = manifest.get("validation") or {}
    except StaleArtifactError:  # none yet, or tuned for other parts, dev dialogues, start or queries
        tuned = None
    if tuned is None and shipped[0] is not None:
        report["tuning"] = {**shipped[0].validation, "shipped": made}
        tuned = shipped[0].config
        save_config(folder / TUNED, tuned, fps, report["tuning"])
        if progress:
            print("  weights of what they teach as tuned at development time on the same dev dialogues and recipe "
                  "(shipped: retrieval/data/movielens_choices.json)", flush=True)
    elif tuned is None and conversations.tune is not None:
        from fusion.tune import ratings_guard

        if shipped[1] and progress:
            print(f"  tuning here: {shipped[1]}", flush=True)

        # words learnt from conversations must not cost what likes bring (fusion/tune.py)
        guard = ratings_guard(catalog, interactions, retriever, config,
                              lambda guard_cf: learnt_terms(folder, retriever, guard_cf, extra_terms))
        tuned, report["tuning"] = conversations.tune(Recommender(retriever, cf, config, terms), conversations.dev,
                                                     progress=progress, guard=guard)
        save_config(folder / TUNED, tuned, fps, report["tuning"])
        built.append("conversation tuning")
    elif tuned is None:
        report["tuning"] = {"skipped": "no tuner given: the learnt terms carry no weight"}
    chosen = tuned or config
    structures = report["tuning"].get("structures") or []
    if structures:
        best = max(structures, key=lambda r: r["objective"])
        start = next((r["start_objective"] for r in structures if r["start_objective"] is not None), None)
        report["summary"] = (f"mean of R@10 and R@50 on the dev replay "
                             f"{'?' if start is None else f'{start:.3f}'} without these terms -> {best['objective']:.3f}")
    return chosen, terms, {**report, "built": built}


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
        model, _ = _unless_outdated(lambda: load_cf(folder, catalog, interactions))
        if model is not None:  # else fitted for other interactions: refit
            return model, False
    model = make_cf(config.cf_model, interactions, len(catalog), **config.cf_params)
    model.save(folder, catalog, interactions)
    return model, True


def _finetuned(catalog: Catalog, interactions: Interactions, encoder, out_dir: Path, rebuild: bool,
               progress: bool, config, stages: Stages, dialogues: Sequence[Dialogue] = ()):
    """(the encoder fine-tuned on the interactions, trained now or reused; whether it was
    trained; why it was skipped, "" when it was not). The users that tuning and the
    cold-start benchmark hold out are left out of its pairs, so neither scores an encoder
    that has seen their ratings."""
    from fusion.tune import training_users
    from retrieval.encoder import TransformerEncoder
    from retrieval.finetune import CATALOG_RECIPE, estimate_seconds, finetune_on_interactions, finetune_split

    config = config or CATALOG_RECIPE
    train_log = training_users(catalog, interactions)
    why = finetune_split(train_log, config.seed)[0]
    if why:
        return encoder, False, why
    eta = None
    if progress and (rebuild or not (out_dir / "config.json").exists()):
        per_text = estimate_encode_seconds(encoder.encode, catalog.texts()) / max(len(catalog), 1)
        eta = estimate_seconds(config, len(catalog), per_text, text_length=getattr(encoder, "max_length", 128),
                               dialogues=bool(dialogues))
    source = "the interactions and dialogues" if dialogues else "the interactions"
    stages.start("fine-tuning", f"fine-tuning the encoder on {source} (up to {config.max_steps} steps)"
                 if eta is not None else f"fine-tuned encoder in {out_dir}", eta)
    outcome = finetune_on_interactions(catalog, train_log, encoder.model_dir, out_dir, config,
                                       rebuild=rebuild, progress=progress, dialogues=dialogues)
    return TransformerEncoder(outcome.model_dir, max_length=encoder.max_length), outcome.trained, ""


def _encode_with_ray(encoder: Encoder, n_texts: int) -> bool:
    """A large catalog (retrieval/batch_encode.py RAY_MIN_TEXTS) with a transformer encoder
    is encoded through Ray Data when Ray is installed (the `scale` extra); the vectors,
    folder and manifest are the same as in process."""
    from retrieval import batch_encode

    # a transformer encoder (weights in model_dir) can be rebuilt in each Ray actor
    return (hasattr(encoder, "model_dir") and n_texts >= batch_encode.RAY_MIN_TEXTS
            and batch_encode.ray_available())


def _other_encoder(text_dir: Path, encoder: Encoder) -> bool:
    """True when text/ holds vectors of another encoder (e.g. built with --no-finetune)."""
    if not (text_dir / "manifest.json").exists():
        return False
    have = read_manifest(text_dir).get("config", {}).get("encoder")
    return have != jsonable(encoder.describe())


def _unless_outdated(fn):
    """(what `fn` loads, "") or, for a folder built for other data, code or config, (None,
    why): the build then makes it anew. A damaged folder still raises (see `_load`)."""
    try:
        return _load(fn), ""
    except OutdatedArtifactError as e:
        return None, str(e).split("; ")[0]


def _load(fn):
    try:
        return fn()
    except StaleArtifactError:
        raise
    except Exception as e:  # a truncated or corrupt file: say which folder to rebuild
        raise StaleArtifactError(f"could not load artifacts ({type(e).__name__}: {e}); "
                                 "run launch.py with --rebuild") from e
