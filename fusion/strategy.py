"""The tuned fusion strategy of an artifact folder: which CF model, which fuser, MMR λ.

Written by `python -m fusion.tune` into `<artifacts>/fusion/manifest.json` (the choice, the
validation figures that justified it, the data fingerprints); read by `fusion.build` so the
bot uses it by default. Without that file the documented default below applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion.cf import fingerprints
from fusion.fuse import Fuser, WeightedFuser, fuser_from_dict
from retrieval.artifacts import check_manifest, write_manifest
from retrieval.records import Catalog, Interactions

KIND = "fusion-strategy"


@dataclass(frozen=True)
class Strategy:
    cf_model: str = "itemknn"  # the first slice's model: the default until tuning says otherwise
    cf_params: dict[str, Any] = field(default_factory=dict)
    fuser: dict[str, Any] = field(default_factory=lambda: WeightedFuser().describe())
    mmr_lambda: float | None = None  # None: no diversity re-ranking
    validation: dict[str, Any] = field(default_factory=dict)  # figures behind the choice

    def make_fuser(self) -> Fuser:
        return fuser_from_dict(self.fuser)

    def to_dict(self) -> dict[str, Any]:
        return {"cf_model": self.cf_model, "cf_params": self.cf_params, "fuser": self.fuser,
                "mmr_lambda": self.mmr_lambda, "validation": self.validation}


DEFAULT = Strategy()


def save_strategy(folder: Path, strategy: Strategy, catalog: Catalog, interactions: Interactions) -> None:
    strategy.make_fuser()  # refuse to store a fuser that cannot be rebuilt
    write_manifest(folder, KIND, fingerprints(catalog, interactions), strategy.to_dict())


def load_strategy(folder: Path, catalog: Catalog, interactions: Interactions) -> Strategy | None:
    """The tuned strategy in `folder`, None when none was tuned; a strategy tuned on other
    data raises StaleArtifactError (rerun `python -m fusion.tune`)."""
    if not (folder / "manifest.json").exists():
        return None
    cfg = check_manifest(folder, KIND, fingerprints(catalog, interactions))["config"]
    return Strategy(cfg["cf_model"], cfg.get("cf_params", {}), cfg["fuser"], cfg.get("mmr_lambda"),
                    cfg.get("validation", {}))


def load_or_fit_cf(folder: Path, strategy: Strategy, catalog: Catalog, interactions: Interactions,
                   refit: bool = False):
    """(CF model, whether it was fitted now): the stored model when it is the one the
    strategy names (same params, same data), else fit it and save it into `folder`."""
    from fusion.cf import load_cf, make_cf, stored_model_matches

    if not refit and stored_model_matches(folder, strategy.cf_model, strategy.cf_params):
        return load_cf(folder, catalog, interactions), False
    model = make_cf(strategy.cf_model, interactions, len(catalog), **strategy.cf_params)
    model.save(folder, catalog, interactions)
    return model, True
