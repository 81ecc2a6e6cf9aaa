"""Conversations as records: turns, dialogues, the samples cut from them, the query text.

An `Utterance` is one message with the catalog items it names; a `Dialogue` is a list of them
(a ReDial conversation, or the bot's own session: the person's messages and its replies).
`recommender_samples` cuts dialogues into (context -> items named next) samples, the
shape of both the training pairs (retrieval/pairs.py) and the ReDial benchmark, and
`context_text` renders a context as the encoder reads it, the same way for training,
evaluation and chat. `split_dialogues` carves the seeded dev split that every tuner reads
(the rest fits the models); `relink` moves dialogues onto another catalog's item ids.

Knows nothing of files, encoders, CF or metrics.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

DEV_SHARE = 15  # percent of a training file's dialogues kept apart for tuning (the dev split)
SPLIT_SEED = 0


@dataclass(frozen=True)
class Utterance:
    """One message; `item_ids` are the catalog items it names, in order, deduplicated."""

    seeker: bool  # True: the person looking for something; False: the recommender (or the bot)
    text: str
    item_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dialogue:
    dialogue_id: str
    turns: tuple[Utterance, ...]
    seeker_liked_ids: frozenset[str] = frozenset()  # marked liked after the dialogue (training only)
    seeker_disliked_ids: frozenset[str] = frozenset()  # ... marked not liked


@dataclass(frozen=True)
class Sample:
    """The turns before a recommender turn and the items that turn names."""

    dialogue_id: str
    context: tuple[Utterance, ...]
    target_ids: tuple[str, ...]
    mentioned_ids: tuple[str, ...]  # items named anywhere in `context`, first mention first
    liked_ids: tuple[str, ...]  # of those, the ones the seeker marked liked (training only)
    disliked_ids: tuple[str, ...]


def mentioned_ids(context: Sequence[Utterance]) -> tuple[str, ...]:
    """Items named anywhere in `context`, first mention first."""
    return tuple(dict.fromkeys(i for t in context for i in t.item_ids))


def recommender_samples(dialogues: Iterable[Dialogue], seeker_turns: bool = False) -> list[Sample]:
    """Each recommender turn that names a catalog item, with everything said before it.
    With `seeker_turns`, seeker turns that name one (after the first turn) are samples
    too: extra TRAINING data (what a seeker names fits what they asked for); the
    benchmark itself only ever scores recommender turns."""
    samples = []
    for d in dialogues:
        mentioned: list[str] = []
        for i, turn in enumerate(d.turns):
            if turn.item_ids and (not turn.seeker or (seeker_turns and i > 0)):
                samples.append(Sample(d.dialogue_id, d.turns[:i], turn.item_ids, tuple(mentioned),
                                      tuple(m for m in mentioned if m in d.seeker_liked_ids),
                                      tuple(m for m in mentioned if m in d.seeker_disliked_ids)))
            mentioned.extend(m for m in turn.item_ids if m not in mentioned)
    return samples


def context_text(context: Sequence[Utterance], n_turns: int = 0) -> str:
    """The query text for a context: the last `n_turns` turns (0 = all), NEWEST FIRST.

    Newest first because encoders truncate on the right at `max_length`: what gets cut is
    then the oldest talk, not the request the recommender is answering.
    """
    turns = context[-n_turns:] if n_turns else context
    lines = [("Seeker: " if t.seeker else "Recommender: ") + t.text for t in reversed(turns)]
    return " ".join(lines) if lines else "Hello"  # an empty context still needs a query


def is_dev(dialogue_id: str, seed: int = SPLIT_SEED) -> bool:
    """A dialogue's side of the fit/dev split: stable across runs and machines."""
    return zlib.crc32(f"dev{seed}:{dialogue_id}".encode()) % 100 < DEV_SHARE


def split_dialogues(dialogues: Sequence[Dialogue], seed: int = SPLIT_SEED) -> tuple[list[Dialogue], list[Dialogue]]:
    """(fit, dev): DEV_SHARE percent of the dialogues, chosen by a hash of their ids, are
    dev (tuning only); the rest fit the models."""
    return ([d for d in dialogues if not is_dev(d.dialogue_id, seed)],
            [d for d in dialogues if is_dev(d.dialogue_id, seed)])


def relink(dialogues: Iterable[Dialogue], id_map: Mapping[str, str]) -> list[Dialogue]:
    """The dialogues with every item id mapped through `id_map` (one catalog's ids -> another's);
    ids without a counterpart are dropped from the turns' items and the seeker's answers,
    the words stay as they were (a title the other catalog lacks is still a title)."""

    def ids(items: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(id_map[i] for i in items if i in id_map))

    return [replace(d, turns=tuple(replace(t, item_ids=ids(t.item_ids)) for t in d.turns),
                    seeker_liked_ids=frozenset(ids(d.seeker_liked_ids)),
                    seeker_disliked_ids=frozenset(ids(d.seeker_disliked_ids))) for d in dialogues]
