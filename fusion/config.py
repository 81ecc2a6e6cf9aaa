"""One serialisable config for the whole recommendation pipeline (fusion/recommender.py).

It says how a request is read (`query`), where candidates come from, how the history
weighs, which CF model and fuser combine text and CF, the weight of every other term,
whether the second stage runs, and MMR. Builds and tuners write it into the artifact
folder's `manifest.json` (`save_config`); the chat, `launch.py evaluate` and every
benchmark read it back (`load_config`), so they all run the same pipeline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from fusion.fuse import Fuser, WeightedFuser, fuser_from_dict
from retrieval.artifacts import check_manifest, write_manifest

KIND = "pipeline"
QUERY_MODES = ("turns", "context")


@dataclass(frozen=True)
class PipelineConfig:
    # How the request is read: "turns" = the weighted mean of each turn's embedding (the
    # bot's reading of words, likes and genres); "context" = the whole conversation
    # rendered as the encoder was fine-tuned on it (retrieval/dialogue.py: context_text).
    query: str = "turns"
    # Candidates: FAISS text top-N (issue: N >= 100) and CF's own top-N when the history
    # likes something; None = every allowed item (small catalogs, and what benchmarks rank).
    n_candidates: int | None = 200
    n_cf_candidates: int = 200
    # History: a like said in chat ~ a rating 1.5 stars above one's mean; a dislike pushes
    # away items liked by the same audience; any other mention (context mode) in between.
    like_weight: float = 1.5
    dislike_weight: float = -1.0
    mention_weight: float = 1.0
    # CF model (fusion/cf.py MODELS, or "cooccur" for conversation co-occurrence) and fuser.
    cf_model: str = "itemknn"  # the first slice's model: the default until tuning says otherwise
    cf_params: Mapping[str, Any] = field(default_factory=dict)
    alpha: float = 0.7  # text weight of the fixed-α fuser used when `fuser` is None
    fuser: Mapping[str, Any] | None = None  # a tuned fuser (fusion/fuse.py describe())
    entity_weight: float = 0.0  # similarity to the mentioned items' mean vector, added to text
    weights: Mapping[str, float] = field(default_factory=dict)  # term name -> weight (fusion/terms.py)
    # n0: every term but the request's own words (`request_weights`) weighs n0 / (n0 + n),
    # n the liked items of the history (the adaptive fuser's evidence count): as a person's
    # likes grow, CF speaks for them and what other people's ratings and talk taught yields
    # to it. None: the weights stay as they are.
    term_decay: float | None = None
    rerank: bool = False  # the second stage (fusion/second_stage.py) reorders the best candidates
    # Items with more of the genres the current request asks for come first (the "genres"
    # term; ties keep the scores' order): a conversation embedded whole hears a late "now
    # something funny" only faintly. Requests without genre words are unaffected.
    genre_first: bool = False
    mmr_lambda: float | None = None  # None: no diversity re-ranking; 1.0 = same as None
    mmr_pool: int = 100  # MMR chooses among the best fused items only (keeps relevance)

    def __post_init__(self) -> None:
        if self.query not in QUERY_MODES:
            raise ValueError(f"query must be one of {QUERY_MODES}, got {self.query!r}")
        if self.n_candidates is not None and self.n_candidates < 1:
            raise ValueError(f"n_candidates must be positive or None, got {self.n_candidates}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.term_decay is not None and not self.term_decay > 0:
            raise ValueError(f"term_decay must be positive or None, got {self.term_decay}")
        self.make_fuser()  # refuse a fuser that cannot be built

    def make_fuser(self) -> Fuser:
        return fuser_from_dict(dict(self.fuser)) if self.fuser is not None else WeightedFuser(self.alpha)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cf_params"], d["weights"] = dict(self.cf_params), dict(self.weights)
        d["fuser"] = None if self.fuser is None else dict(self.fuser)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PipelineConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown pipeline config key(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    def with_(self, **changes: Any) -> "PipelineConfig":
        return replace(self, **changes)


# A ratings-only pipeline (a build without dialogues) weighs its request terms, the latest
# turn and the "popular" prior (fusion/terms.py request_terms, popular_term) as these fields say, over
# the config tuned on its own ratings. Chosen on ReDial dev dialogues (15% of train.jsonl,
# moved onto MovieLens) replayed through the bot (bot/offline/replay.py RATINGS_SEARCH):
# `python -m benchmarks.conversations --tune-defaults` reruns the search and says whether
# it still picks these (benchmarks/results/conversations_defaults.md). The search only
# takes points that keep 98% of the ratings-tuned config's cold-start NDCG on its
# validation users (fusion/tune.py ColdStartGuard): words alone once chose genres 0.6, which put the
# bot below CF only at every number of likes in the cold-start benchmark.
# A fixed text weight α replaces the ratings-tuned fuser where the search picks one.
REPLAY_DEFAULTS: dict[str, Any] = {"n_candidates": 1000,
                                   "weights": {"alike": 0.4, "genres": 0.3, "latest": 0.1, "popular": 0.3}}
# The weight of the "topics" term (items carrying the topics a request names, fusion/terms.py
# TopicTerm) in every ratings-only pipeline, tuned or not: chosen on the dev topics of
# benchmarks/topics.py (`--split dev --topic-weight W`), never on the held-out ones it
# reports (ReDial replays name too few topics to choose it on).
TOPIC_WEIGHT = 2.0


def request_weights() -> dict[str, float]:
    """The weights of the terms that read only the request and mean the same in every
    pipeline: the topics asked for (TOPIC_WEIGHT) and the replay defaults' genres and latest
    turn. A pipeline that learns from conversations starts from them and keeps them while
    the dev replay tunes what the conversations teach (ReDial requests name too few topics
    for the replay to weigh them; without them "a heist movie" listed The Matrix first)."""
    defaults = REPLAY_DEFAULTS.get("weights", {})
    return {"topics": TOPIC_WEIGHT, **{k: defaults[k] for k in REQUEST_TERMS if k in defaults}}


REQUEST_TERMS = ("topics", "genres", "latest")  # what the person asked for, in their words


def decays(term: str) -> bool:
    """Whether `term`'s weight fades as likes grow (PipelineConfig.term_decay): all but the
    terms of the request's own words."""
    return term not in REQUEST_TERMS


def with_replay_defaults(config: PipelineConfig) -> PipelineConfig:
    """`config` with the ratings-only replay defaults over it (its other term weights kept)."""
    changes = dict(REPLAY_DEFAULTS)
    if "weights" in changes:
        changes["weights"] = {**config.weights, **changes["weights"]}
    return config.with_(**changes)


def save_config(folder: Path, config: PipelineConfig, fingerprints: dict[str, str],
                validation: Mapping[str, Any] | None = None, **extra: Any) -> None:
    """Write the config, the figures that chose it and `extra` entries (e.g. where the
    components live) as `folder/manifest.json`."""
    write_manifest(folder, KIND, fingerprints,
                   {"pipeline": config.to_dict(), "validation": dict(validation or {}), **extra})


def load_config(folder: Path, fingerprints: dict[str, str] | None = None) -> tuple[PipelineConfig, dict]:
    """(config, the manifest's whole config entry: validation figures and extras) from
    `folder/manifest.json`; a config written for other data, or an unreadable one, raises
    StaleArtifactError saying what to rebuild."""
    from retrieval.artifacts import StaleArtifactError

    manifest = check_manifest(folder, KIND, fingerprints or {})
    try:
        return PipelineConfig.from_dict(manifest["config"]["pipeline"]), manifest["config"]
    except (KeyError, TypeError, ValueError) as e:
        raise StaleArtifactError(f"{folder}: unreadable pipeline config ({e}); rebuild it") from None
