"""User-study mode: the study's arms, its JSON config, and the rule that assigns arms.

A study compares arms (e.g. different α or fusion strategies). Each participant enters an
id, may be shown a consent text, is assigned one arm for good, and may rate each reply 1–5.

What this module does NOT know: gradio, HTTP, the model, or what a strategy name means
(it is an opaque string here; whoever builds the recommender for an arm validates it).
It stores nothing itself: `assign_recorded` asks a `Logbook` for the counts and records
the assignment there, atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing only: the logbook does not import this module either
    from bot.service.logbook import Logbook

MAX_PARTICIPANT_ID_CHARS = 200  # an id typed by hand, not a document


class StudyConfigError(ValueError):
    """A study config that cannot be used; the text says which field to fix and how."""


@dataclass(frozen=True)
class Arm:
    """One condition of the study. None means "the bot's default" for alpha / strategy."""

    name: str
    alpha: float | None = None  # weight of the text score, in [0, 1]
    strategy: str | None = None  # fusion strategy name, passed through unchecked

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StudyConfigError(f"arm name must be a non-empty string, got {self.name!r}")
        if self.alpha is not None and (
                isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float))
                or not math.isfinite(self.alpha) or not 0.0 <= self.alpha <= 1.0):
            raise StudyConfigError(
                f"arm {self.name!r}: alpha must be a number in [0, 1] or null, got {self.alpha!r}")
        if self.strategy is not None and (not isinstance(self.strategy, str) or not self.strategy.strip()):
            raise StudyConfigError(
                f"arm {self.name!r}: strategy must be a non-empty string or null, got {self.strategy!r}")


@dataclass(frozen=True)
class StudyConfig:
    arms: tuple[Arm, ...]
    seed: int = 0  # tie-breaking among equally filled arms; see `assign_arm`
    consent_text: str | None = None  # shown before the first turn; None: no consent step
    ask_rating: bool = True  # offer an optional 1–5 rating of each reply

    def __post_init__(self) -> None:
        if not isinstance(self.arms, tuple) or not self.arms:
            raise StudyConfigError("arms must be a non-empty list of arms, e.g. "
                                   '[{"name": "text", "alpha": 0.9}, {"name": "cf", "alpha": 0.3}]')
        if not all(isinstance(a, Arm) for a in self.arms):
            raise StudyConfigError("arms must hold Arm records")
        names = [a.name for a in self.arms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise StudyConfigError(f"arm names must be unique; repeated: {', '.join(dupes)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise StudyConfigError(f"seed must be an integer, got {self.seed!r}")
        if self.consent_text is not None and (
                not isinstance(self.consent_text, str) or not self.consent_text.strip()):
            raise StudyConfigError("consent_text must be a non-empty string, or null for no consent step")
        if not isinstance(self.ask_rating, bool):
            raise StudyConfigError(f"ask_rating must be true or false, got {self.ask_rating!r}")

    def arm(self, name: str) -> Arm:
        """The arm called `name`; StudyConfigError if the config has none by that name."""
        for a in self.arms:
            if a.name == name:
                return a
        raise StudyConfigError(f"no arm named {name!r}; arms: {', '.join(a.name for a in self.arms)}")


_TOP_KEYS = {"arms", "seed", "consent_text", "ask_rating"}
_ARM_KEYS = {"name", "alpha", "strategy"}


def parse_study_config(data: Any, source: str = "study config") -> StudyConfig:
    """A StudyConfig from decoded JSON; errors name `source` and the field to fix.

    Expected shape: {"arms": [{"name": str, "alpha": float|null, "strategy": str|null}, ...],
    "seed": int, "consent_text": str|null, "ask_rating": bool} (all but "arms" optional).
    """
    if not isinstance(data, dict):
        raise StudyConfigError(f"{source}: expected a JSON object with an \"arms\" list, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise StudyConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; "
                               f"allowed: {', '.join(sorted(_TOP_KEYS))}")
    if "arms" not in data:
        raise StudyConfigError(f"{source}: missing \"arms\": list the study's arms, "
                               'e.g. [{"name": "text", "alpha": 0.9}, {"name": "cf", "alpha": 0.3}]')
    raw_arms = data["arms"]
    if not isinstance(raw_arms, list):
        raise StudyConfigError(f"{source}: \"arms\" must be a list, got {type(raw_arms).__name__}")
    arms = []
    for i, raw in enumerate(raw_arms):
        where = f"{source}: arms[{i}]"
        if not isinstance(raw, dict):
            raise StudyConfigError(f"{where} must be an object like {{\"name\": \"text\", \"alpha\": 0.9}}")
        bad = sorted(set(raw) - _ARM_KEYS)
        if bad:
            raise StudyConfigError(f"{where}: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(_ARM_KEYS))}")
        if "name" not in raw:
            raise StudyConfigError(f"{where}: missing \"name\"")
        try:
            arms.append(Arm(raw["name"], raw.get("alpha"), raw.get("strategy")))
        except StudyConfigError as e:
            raise StudyConfigError(f"{where}: {e}") from None
    try:
        return StudyConfig(arms=tuple(arms), seed=data.get("seed", 0),
                           consent_text=data.get("consent_text"), ask_rating=data.get("ask_rating", True))
    except StudyConfigError as e:
        raise StudyConfigError(f"{source}: {e}") from None


def load_study_config(path: Path | str) -> StudyConfig:
    """Read and validate a study config JSON file (see `parse_study_config` for the shape)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyConfigError(f"study config {path} not found: check the path given for the study config") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StudyConfigError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    return parse_study_config(data, source=str(path))


def clean_participant_id(raw: str | None) -> str:
    """The participant id as typed, stripped; ValueError (shown to the person) if unusable."""
    pid = raw.strip() if isinstance(raw, str) else ""
    if not pid:
        raise ValueError("Please enter your participant id to start.")
    if len(pid) > MAX_PARTICIPANT_ID_CHARS:
        raise ValueError(f"A participant id has at most {MAX_PARTICIPANT_ID_CHARS} characters.")
    return pid


def _tie_key(seed: int, participant_id: str, arm_name: str) -> bytes:
    return hashlib.sha256(f"{seed}\x1f{participant_id}\x1f{arm_name}".encode("utf-8")).digest()


def assign_arm(participant_id: str, config: StudyConfig, counts: Mapping[str, int],
               previous: str | None = None) -> Arm:
    """The arm of `participant_id`, given how many participants each arm already has.

    The rule (seeded, balanced, stable):
    1. A returning participant keeps their arm: pass the recorded arm name as `previous`
       and it is returned (StudyConfigError if the config no longer has that arm).
    2. A new participant goes to the least-filled arm: `counts` maps arm name -> number
       of participants already assigned (missing names count 0; names not in the config
       are ignored). Assigning N participants one after another this way leaves every
       arm with floor(N/A) or ceil(N/A) participants: the counts differ by at most 1.
    3. Ties among the least-filled arms go to the arm with the smallest
       sha256(f"{seed}\\x1f{participant_id}\\x1f{arm name}"): deterministic for a given
       seed, participant and counts, but not the config's arm order, so which arm fills
       first is not predictable from the order participants arrive.

    Pure function: the caller stores the result (see `assign_recorded`), and must
    serialise concurrent calls so that each sees the counts after the previous one.
    """
    if previous is not None:
        try:
            return config.arm(previous)
        except StudyConfigError:
            raise StudyConfigError(
                f"participant {participant_id!r} was assigned arm {previous!r}, which this study "
                f"config no longer has (arms: {', '.join(a.name for a in config.arms)}); "
                "restore that arm or log the study to a new database") from None
    fill = [counts.get(a.name, 0) for a in config.arms]
    least = min(fill)
    tied = [a for a, n in zip(config.arms, fill) if n == least]
    return min(tied, key=lambda a: _tie_key(config.seed, participant_id, a.name))


def assign_recorded(book: Logbook, session_id: str, participant_id: str, config: StudyConfig) -> Arm:
    """Assign (or look up) the participant's arm through `book`, atomically, and return it.

    The logbook holds the participant -> arm table: it reads the recorded arm and the
    counts, calls `assign_arm`, and records a new assignment in one transaction, so
    concurrent sessions (threads or processes) keep the arms balanced.
    """
    name = book.assign_participant(
        session_id, participant_id,
        lambda counts, previous: assign_arm(participant_id, config, counts, previous).name)
    return config.arm(name)
