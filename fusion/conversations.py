"""A pipeline that learns from conversations: fit its components, save them, load them.

Given dialogues whose turns name catalog items (retrieval/dialogue.py) and an encoder
(usually fine-tuned on the same dialogues, retrieval/finetune.py), this fits:

- `cf/`: item co-occurrence within a dialogue (fusion/cooccur.py), the pipeline's CF,
  with its popularity prior (how often recommenders named each item);
- `priors.npz`: the mention prior (how often any turn named each item);
- `head/`: the catalog head over the encoder's item vectors (retrieval/head.py);
- `neighbours/`: what recommenders named after each training context (fusion/neighbours.py);
- optionally `ratings/`: co-occurrence of items liked together in a ratings log of
  another catalog linked by title and year (retrieval/crosswalk.py, `fit_linked_ratings`).

`load_pipeline` assembles the `Recommender` from such a folder and a `PipelineConfig`;
a system folder (`save_system` / `load_system`) adds the config, the encoder and the
second stage's reranker, and is what `launch.py --catalog redial` serves.
Every component's manifest fingerprints the catalog and the dialogues it was fitted on.
Knows nothing of a benchmark's splits, metrics or reports.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from fusion.config import PipelineConfig, load_config, save_config
from fusion.cooccur import CoOccurrence, CoOccurrenceCF
from fusion.neighbours import ContextNeighbours
from fusion.recommender import Recommender
from fusion.second_stage import K_NEIGHBOURS, SecondStage, first_stage_fingerprint
from fusion.terms import CoOccurTerm, HeadTerm, NeighboursTerm, PriorTerm, request_terms
from retrieval.artifacts import check_manifest
from retrieval.dialogue import Dialogue, context_text, recommender_samples
from retrieval.encoder import Encoder
from retrieval.head import KIND as HEAD_KIND
from retrieval.head import CatalogHead, HeadConfig, HeadExamples
from retrieval.records import Catalog
from retrieval.retriever import Retriever

def encoder_fingerprint(encoder: Encoder) -> str:
    """The identity of an encoder as its `describe()` gives it (weights, length, precision):
    what a part fitted on its vectors, or weights tuned on its queries, depend on."""
    return hashlib.sha256(str(sorted(encoder.describe().items())).encode()).hexdigest()


def dialogues_fingerprint(dialogues: Sequence[Dialogue]) -> str:
    h = hashlib.sha256()
    for d in dialogues:
        h.update(d.dialogue_id.encode())
        for t in d.turns:
            h.update(f"{int(t.seeker)}\x00{t.text}\x00{','.join(t.item_ids)}\x01".encode())
    return h.hexdigest()


def fit_cooccurrence(dialogues: Sequence[Dialogue], catalog: Catalog) -> CoOccurrence:
    """Baskets = items named in one dialogue; popularity = recommendations."""
    baskets = [[catalog.row(m) for t in d.turns for m in t.item_ids] for d in dialogues]
    recommended = [catalog.row(m) for s in recommender_samples(dialogues) for m in s.target_ids]
    return CoOccurrence.fit(baskets, len(catalog), recommended)


def mention_prior(dialogues: Sequence[Dialogue], catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """(float32 prior in [0, 1], int64 counts) over catalog rows: log(1 + turns naming the
    item), scaled by its maximum."""
    counts = np.zeros(len(catalog), np.int64)
    for d in dialogues:
        for t in d.turns:
            for m in t.item_ids:
                counts[catalog.row(m)] += 1
    logc = np.log1p(counts.astype(np.float32))
    return (logc / max(float(logc.max()), 1e-12)).astype(np.float32), counts


def context_vectors(encoder: Encoder, samples, n_turns: int = 0, progress: bool = True) -> np.ndarray:
    """(n, dim) embeddings of the samples' contexts, as the pipeline's context mode reads them."""
    return encoder.encode([context_text(s.context, n_turns) for s in samples], progress=progress)


def train_head(dialogues: Sequence[Dialogue], catalog: Catalog, encoder: Encoder, vectors: np.ndarray,
               queries: np.ndarray | None = None, epochs: int | None = None,
               progress: bool = True) -> tuple[CatalogHead, dict]:
    """The catalog head over `vectors`, trained on every recommender and seeker turn that
    names items. Without `epochs`, the last 10% of the dialogues pick the number of
    epochs (early stopping), then the head trains that long on all of them."""
    samples = recommender_samples(dialogues, seeker_turns=True)
    queries = context_vectors(encoder, samples, progress=progress) if queries is None else queries
    examples = HeadExamples(queries, [list(catalog.rows(list(s.mentioned_ids))) for s in samples],
                            [list(catalog.rows(list(s.target_ids))) for s in samples])
    report: dict = {}
    if epochs is None:
        held_ids = {d.dialogue_id for d in dialogues[len(dialogues) - len(dialogues) // 10:]}
        # held-out examples are recommender turns, as in the benchmark
        recommender = {(s.dialogue_id, len(s.context)) for s in recommender_samples(
            [d for d in dialogues if d.dialogue_id in held_ids])}
        fit_i = [i for i, s in enumerate(samples) if s.dialogue_id not in held_ids]
        held_i = [i for i, s in enumerate(samples) if (s.dialogue_id, len(s.context)) in recommender]
        _, report = CatalogHead.fit(vectors, examples.subset(fit_i), examples.subset(held_i), HeadConfig(),
                                    progress=progress)
        epochs = max(report["best_epoch"], 1)
    head, refit = CatalogHead.fit(vectors, examples, HeadExamples.empty(vectors.shape[1]),
                                  replace(HeadConfig(), epochs=epochs), progress=progress)
    return head, {**report, "refit": {k: refit[k] for k in ("head", "n_train_targets", "seconds")}}


def fit_components(dialogues: Sequence[Dialogue], catalog: Catalog, encoder: Encoder, folder: Path,
                   ratings: CoOccurrence | None = None, head_epochs: int | None = None,
                   progress: bool = True) -> dict:
    """Fit and save every component into `folder` (text/, cf/, priors.npz, head/,
    neighbours/, ratings/); components whose manifest matches are reused. Returns a
    summary (what was fitted, seconds)."""
    start, built = time.perf_counter(), []
    retriever = _text(catalog, encoder, folder / "text", progress, built)
    out = fit_conversation_parts(dialogues, catalog, encoder, retriever.item_vectors, folder, ratings, head_epochs,
                                 progress)
    return {**out, "built": built + out["built"], "seconds": round(time.perf_counter() - start, 1)}


def fit_conversation_parts(dialogues: Sequence[Dialogue], catalog: Catalog, encoder: Encoder,
                           item_vectors: np.ndarray, folder: Path, ratings: CoOccurrence | None = None,
                           head_epochs: int | None = None, progress: bool = True) -> dict:
    """What the pipeline learns from conversations, over the item vectors of `encoder`,
    into `folder`: cf/ (co-occurrence and priors), head/, neighbours/ and, when given,
    ratings/; parts whose manifest matches are reused. Returns a summary."""
    start, built = time.perf_counter(), []
    fps = {"catalog": catalog.fingerprint(), "dialogues": dialogues_fingerprint(dialogues),
           "encoder": encoder_fingerprint(encoder)}
    if not _fresh(folder / "cf", "cf-cooccur", fps):
        prior, counts = mention_prior(dialogues, catalog)
        (folder / "cf").mkdir(parents=True, exist_ok=True)
        np.savez(folder / "cf" / "priors.npz", mentions=prior, mention_counts=counts)  # before the manifest
        fit_cooccurrence(dialogues, catalog).save(folder / "cf", fps, {"source": "dialogues"})
        built.append("cf")
    samples = recommender_samples(dialogues, seeker_turns=True)
    queries = None
    if not _fresh(folder / "head", HEAD_KIND, fps) or not _fresh(folder / "neighbours", "context-neighbours", fps):
        queries = context_vectors(encoder, samples, progress=progress)
        head, report = train_head(dialogues, catalog, encoder, item_vectors, queries, head_epochs, progress)
        head.save(folder / "head", fps, report)
        ContextNeighbours.fit(queries, [list(catalog.rows(list(s.target_ids))) for s in samples],
                              len(catalog)).save(folder / "neighbours", fps, {"n_contexts": len(samples)})
        built += ["head", "neighbours"]
    if ratings is not None:
        ratings.save(folder / "ratings", {"catalog": catalog.fingerprint()}, {"source": "linked ratings"})
    return {"built": built, "seconds": round(time.perf_counter() - start, 1), "fingerprints": fps}


def _fresh(folder: Path, kind: str, fps: dict[str, str]) -> bool:
    from retrieval.artifacts import StaleArtifactError

    try:
        check_manifest(folder, kind, fps)
        return True
    except StaleArtifactError:
        return False


def _text(catalog: Catalog, encoder: Encoder, folder: Path, progress: bool, built: list[str]) -> Retriever:
    from retrieval.artifacts import StaleArtifactError

    try:
        return Retriever.load(folder, catalog, encoder)
    except StaleArtifactError:
        retriever = Retriever.build(catalog, encoder, progress=progress)
        retriever.save(folder)
        built.append("text")
        return retriever


def load_pipeline(folder: Path, catalog: Catalog, encoder: Encoder, config: PipelineConfig,
                  second_stage: SecondStage | None = None) -> Recommender:
    """The `Recommender` of `config` over the components fitted into `folder`."""
    fps = read_fingerprints(folder / "cf")
    if fps.get("catalog") != catalog.fingerprint():
        from retrieval.artifacts import StaleArtifactError

        raise StaleArtifactError(f"{folder}: fitted for another catalog; rebuild it")
    retriever = Retriever.load(folder / "text", catalog, encoder)
    model = CoOccurrence.load(folder / "cf", fps)
    terms = conversation_terms(folder, catalog, retriever.item_vectors, fps)
    if (folder / "ratings" / "manifest.json").exists():
        terms.append(CoOccurTerm("ratings", CoOccurrence.load(folder / "ratings", {"catalog": fps["catalog"]})))
    return Recommender(retriever, CoOccurrenceCF(model), config, terms, second_stage)


def conversation_terms(folder: Path, catalog: Catalog, vectors: np.ndarray,
                       fps: dict[str, str] | None = None, cooccur_term: bool = False) -> list:
    """The terms of the parts `fit_conversation_parts` saved into `folder`: the
    recommendation and mention priors, the head, the nearest training contexts, and the
    per-request ones (repeat, entity, latest turn, wanted genres). With `cooccur_term`,
    the co-occurrence too, as the "dialogues" term (for a pipeline whose CF is another
    model, e.g. ratings)."""
    fps = fps if fps is not None else read_fingerprints(folder / "cf")
    model = CoOccurrence.load(folder / "cf", fps)
    with np.load(folder / "cf" / "priors.npz", allow_pickle=False) as z:
        mentions, mention_counts = z["mentions"], z["mention_counts"]
    terms = [PriorTerm("popularity", model.popularity, model.counts), PriorTerm("mentions", mentions, mention_counts),
             HeadTerm(CatalogHead.load(folder / "head", fps), vectors),
             NeighboursTerm(ContextNeighbours.load(folder / "neighbours", fps), K_NEIGHBOURS),
             *request_terms(catalog, vectors)]
    if cooccur_term:
        terms.append(CoOccurTerm("dialogues", model))
    return terms


MIN_LIKED_RATING = 4.0  # a rating (MovieLens: 0.5-5 stars) that counts as liking the item


def fit_linked_ratings(catalog: Catalog, other: Catalog, interactions, min_rating: float = MIN_LIKED_RATING
                       ) -> CoOccurrence:
    """Co-occurrence of items liked together (rated >= `min_rating`) by the users of
    another catalog's ratings log, in `catalog`'s rows: items linked by title and year
    (retrieval/crosswalk.py); unlinked ones get no similarity."""
    from retrieval.crosswalk import liked_baskets, link_rows

    return CoOccurrence.fit(liked_baskets(interactions, link_rows(other, catalog), min_rating), len(catalog))


def save_system(folder: Path, config: PipelineConfig, catalog: Catalog, components: str, encoder: str,
                validation: dict | None = None) -> None:
    """The system manifest: the pipeline config, where its components and encoder live
    (folders relative to `folder`; encoder "base" = the packaged base model)."""
    save_config(folder, config, {"catalog": catalog.fingerprint()}, validation,
                components=components, encoder=encoder)


def load_system(folder: Path, catalog: Catalog, fact_tokens: Sequence[Sequence[str]] | None = None) -> Recommender:
    """The `Recommender` a system folder describes (save_system): its encoder, its
    components, its config, and the second stage when the config runs it (fact tokens
    per item feed its facts feature)."""
    from fusion.itemsim import FactSimilarity, TitleWords
    from fusion.rerank import Reranker
    from retrieval.encoder import TransformerEncoder

    config, manifest = load_config(folder, {"catalog": catalog.fingerprint()})
    encoder = TransformerEncoder(None if manifest["encoder"] == "base" else folder / manifest["encoder"])
    second = None
    if config.rerank:
        # a reranker trained for another first stage is refused, with what to rebuild
        reranker = Reranker.load(folder / "reranker", {"catalog": catalog.fingerprint(),
                                                       "first_stage": first_stage_fingerprint(config)})
        facts = FactSimilarity(fact_tokens if fact_tokens is not None else [[] for _ in catalog.items])
        second = SecondStage(reranker, facts, TitleWords([it.title for it in catalog.items]))
    return load_pipeline(folder / manifest["components"], catalog, encoder, config, second)


def read_fingerprints(folder: Path) -> dict[str, str]:
    from retrieval.artifacts import read_manifest

    return read_manifest(folder).get("fingerprints", {})
