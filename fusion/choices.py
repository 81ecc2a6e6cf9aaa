"""Choices made once at development time and shipped: the tuned configs of the default build.

Tuning is the part of the first build that a fresh clone need not repeat: the ratings tuner
(fusion/tune.py: CF model, fuser, MMR λ on validation users) and the dialogue tuner
(bot/offline/replay.py: the weights of what conversations teach, on the dev split of the
shipped dialogues) give the same choices for the same data, recipe and code. A build
records what its choices depend on (`recipe`: fingerprints of the catalog, the interactions,
the fit and dev dialogues, the fine-tuning recipe and base model, the query precision, the
starting config and each tuner's search); `python -m fusion.choices record` copies the
tuned configs of a folder built that way into `retrieval/data/movielens_choices.json`.
A later build whose recipe matches the file's uses them instead of tuning, and says so;
any difference (another catalog, interactions, dialogue file, recipe or tuner) tunes as before.

The recipe fingerprints the inputs of fine-tuning, not the bytes of its weights: the same
seeded recipe on another machine may round differently, and its choices are still those
made on the same dev data. Nothing here reads valid.jsonl or any split a benchmark reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from fusion.cf import fingerprints
from fusion.config import REPLAY_DEFAULTS, PipelineConfig, request_weights
from retrieval.artifacts import json_fingerprint

CHOICES_FILE = Path(__file__).resolve().parent.parent / "retrieval" / "data" / "movielens_choices.json"
RATINGS, CONVERSATIONS = "ratings", "conversations"  # the two tunings a build may take from the file


def ratings_tuner_fingerprint() -> str:
    """What fusion/tune.py searches and how it splits users: a change there is a new tuner."""
    from fusion import tune

    return json_fingerprint({"models": tune.MODELS, "mmr": tune.MMR_LAMBDAS, "mmr_keep": tune.MMR_KEEP,
                 "split": [tune.N_TEST, tune.N_VALIDATION, tune.SEED], "guard_keep": tune.GUARD_KEEP,
                 "families": sorted(tune.FAMILIES)})


def build_recipe(catalog, interactions, base_model: str, finetune: Mapping | None, conversations,
                 start: PipelineConfig, int8_queries: bool) -> dict[str, str]:
    """What a build's tuned choices depend on, as named fingerprints (`finetune`: the
    fine-tuning recipe as a dict, None when the build does not fine-tune)."""
    from fusion.conversations import dialogues_fingerprint

    recipe = {**fingerprints(catalog, interactions),
              "encoder": json_fingerprint({"base": base_model, "finetune": finetune}),
              "queries": "int8" if int8_queries else "float32", "start": json_fingerprint(start.to_dict()),
              "request_weights": json_fingerprint(request_weights()),
              "replay_defaults": json_fingerprint(REPLAY_DEFAULTS),
              "ratings_tuner": ratings_tuner_fingerprint()}
    if conversations is not None:
        recipe.update(fit=dialogues_fingerprint(conversations.fit), dev=dialogues_fingerprint(conversations.dev),
                      dialogue_tuner=conversations.tune_fingerprint)
    return recipe


@dataclass(frozen=True)
class Choice:
    config: PipelineConfig
    validation: Mapping  # the figures that chose it, as the tuner reported them


@dataclass(frozen=True)
class ShippedChoices:
    """The tuned configs of one recorded build and the recipe they were made for."""

    recipe: Mapping[str, str]
    choices: Mapping[str, Choice]  # RATINGS / CONVERSATIONS -> the choice
    made: str  # how and when they were made, for the build log

    def get(self, which: str, recipe: Mapping[str, str]) -> tuple[Choice | None, str]:
        """(the shipped choice for `which`, "") when `recipe` is the one it was made for,
        else (None, why not) in words a build can print."""
        if which not in self.choices:
            return None, f"no shipped {which} choice"
        differs = sorted(k for k in set(self.recipe) | set(recipe) if self.recipe.get(k) != recipe.get(k))
        if differs:
            return None, f"the shipped choices were made for another {', '.join(differs)}"
        return self.choices[which], ""

    def to_json(self) -> str:
        return json.dumps({"recipe": dict(sorted(self.recipe.items())), "made": self.made,
                           "choices": {k: {"pipeline": c.config.to_dict(), "validation": dict(c.validation)}
                                       for k, c in sorted(self.choices.items())}}, indent=1, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: Path = CHOICES_FILE) -> ShippedChoices | None:
        """The shipped choices, None when the file is absent or unreadable (the build then
        tunes, as it always could)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            choices = {k: Choice(PipelineConfig.from_dict(v["pipeline"]), v.get("validation") or {})
                       for k, v in data["choices"].items()}
            return cls({str(k): str(v) for k, v in data["recipe"].items()}, choices, str(data.get("made", "")))
        except (OSError, KeyError, TypeError, ValueError, AttributeError):
            return None


def recorded(folder: Path, made: str) -> ShippedChoices:
    """The choices a build tuned into `folder` (its fusion/ and conversations/tuned/
    configs) with the recipe its manifest records; a folder whose choices were themselves
    taken from the file, or that lacks a tuning, is refused (ValueError)."""
    from fusion.config import load_config
    from retrieval.artifacts import read_manifest

    build = read_manifest(folder).get("config", {})
    recipe = build.get("recipe")
    if not recipe:
        raise ValueError(f"{folder}: its build manifest records no recipe (built before choices were recorded)")
    choices = {}
    for which, part in ((RATINGS, folder / "fusion"), (CONVERSATIONS, folder / "conversations" / "tuned")):
        if not (part / "manifest.json").exists():
            continue
        config, entry = load_config(part)
        if entry.get("validation", {}).get("shipped"):
            raise ValueError(f"{part}: this choice came from the shipped file; rebuild with --rebuild-choices to "
                             "tune anew before recording")
        choices[which] = Choice(config, entry.get("validation") or {})
    if not choices:
        raise ValueError(f"{folder}: no tuned config (fusion/, conversations/tuned/) to record")
    return ShippedChoices(recipe, choices, made)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Record the tuned choices of a default build as the shipped ones.")
    sub = p.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="copy the tuned configs of a built folder into the shipped file")
    rec.add_argument("--artifacts", type=Path, required=True,
                     help="a folder built by `launch.py --build-only --rebuild-choices` (tuned there, not shipped)")
    rec.add_argument("--out", type=Path, default=CHOICES_FILE)
    args = p.parse_args(argv)
    import datetime

    from retrieval.artifacts import read_manifest

    try:
        tuned_on = read_manifest(args.artifacts / "fusion").get("created", "?")
    except Exception:  # recorded() below says what is missing
        tuned_on = "?"
    made = (f"tuned by the build of {args.artifacts.name}/ ({tuned_on}), recorded "
            f"{datetime.date.today().isoformat()} by `python -m fusion.choices record`")
    try:
        shipped = recorded(args.artifacts, made)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.out.write_text(shipped.to_json(), encoding="utf-8")
    print(f"wrote {args.out}: {', '.join(sorted(shipped.choices))} choices for recipe "
          f"{json_fingerprint(dict(shipped.recipe))[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
