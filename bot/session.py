"""Conversation state of one chat: every turn, what was liked, ruled out and shown.

Frozen: each turn returns a new Session, so a failed turn never half-updates state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.understand import TurnReading


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str | None = None  # a known user of the catalog's interaction data, or None
    turns: tuple[str, ...] = ()  # raw user messages, oldest first
    readings: tuple[TurnReading, ...] = ()  # one per turn
    liked_ids: tuple[str, ...] = ()
    disliked_ids: tuple[str, ...] = ()
    shown_ids: tuple[str, ...] = ()  # every item listed so far: never repeated
    last_ids: tuple[str, ...] = ()  # the latest list, in rank order

    def banned_genres(self) -> tuple[str, ...]:
        """Genres ruled out by any turn and not asked for again later."""
        banned: dict[str, None] = {}
        for r in self.readings:
            for g in r.wanted_genres:
                banned.pop(g, None)
            for g in r.banned_genres:
                banned[g] = None
        return tuple(banned)

    def wanted_cues(self) -> dict[str, tuple[str, ...]]:
        """Wanted genre -> the user's words that asked for it, over all turns."""
        cues: dict[str, tuple[str, ...]] = {}
        banned = set(self.banned_genres())
        for r in self.readings:
            for g, words in r.cues.items():
                if g not in banned:
                    cues[g] = tuple(dict.fromkeys(cues.get(g, ()) + words))
        return cues

    def with_turn(self, message: str, reading: TurnReading) -> "Session":
        return replace(self, turns=self.turns + (message,), readings=self.readings + (reading,))

    def with_shown(self, item_ids: tuple[str, ...]) -> "Session":
        return replace(self, shown_ids=self.shown_ids + item_ids, last_ids=item_ids)
