"""Reading one user message with rules (no LLM): which genres it asks for, which it
rules out, and the text left for the encoder once negated phrases are removed.

The genre lexicon maps everyday words to genre names; it only acts on genres the
catalog really has, so another catalog just gets fewer matches, never wrong ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# genre (lower case) -> words people use for it. Multi-word cues are matched as phrases.
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "comedy": ("funny", "comedy", "comedies", "hilarious", "laugh", "laughs", "humor", "humour",
               "lighthearted", "silly"),
    "animation": ("animated", "animation", "cartoon", "cartoons", "anime", "pixar"),
    "children": ("kids", "kid", "children", "child", "family", "toddler", "toddlers"),
    "horror": ("horror", "scary", "scare", "frightening", "creepy", "spooky", "terrifying", "slasher"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful", "tense", "dark", "darker", "gritty"),
    "crime": ("crime", "gangster", "gangsters", "mafia", "heist", "detective", "dark", "darker"),
    "romance": ("romance", "romantic", "love story", "romcom", "rom com"),
    "sci-fi": ("sci-fi", "sci fi", "scifi", "science fiction", "space", "alien", "aliens",
               "futuristic", "robot", "robots"),
    "action": ("action", "explosions", "fights", "martial arts", "shootout"),
    "adventure": ("adventure", "adventures", "quest", "epic"),
    "drama": ("drama", "dramas", "dramatic", "serious", "emotional", "moving"),
    "documentary": ("documentary", "documentaries"),
    "war": ("war", "soldiers", "battle", "military"),
    "western": ("western", "westerns", "cowboy", "cowboys"),
    "musical": ("musical", "musicals", "singing"),
    "mystery": ("mystery", "mysteries", "whodunit"),
    "fantasy": ("fantasy", "magic", "wizard", "wizards", "dragons", "fairy tale"),
    "film-noir": ("noir", "film noir"),
}

# Words that rule a genre out without a negation ("for adults" is not a children's film).
IMPLIED_BANS: dict[str, tuple[str, ...]] = {
    "adult": ("children",), "adults": ("children",), "grown-up": ("children",),
    "grown-ups": ("children",), "mature": ("children",),
}

# A negation opens a scope that runs to the next clause break.
NEGATION = re.compile(
    r"\b(?:no|not|nothing|without|never|avoid|except|hate|hated|dislike|don'?t want|"
    r"do not want|no more|anything but)\b([^.,;!?]*)", re.IGNORECASE)
CLAUSE_BREAK = re.compile(r"\b(?:but|instead|rather|though|however|and (?:i )?(?:want|would like|like|love|prefer)|"
                          r"(?:i )?(?:want|would like|prefer|looking for))\b", re.IGNORECASE)


@dataclass(frozen=True)
class TurnReading:
    text: str  # the message with negated phrases removed (what the encoder reads)
    wanted_genres: tuple[str, ...]  # lower-case genre names asked for
    banned_genres: tuple[str, ...]  # lower-case genre names ruled out
    cues: dict[str, tuple[str, ...]]  # wanted genre -> the words of the message that named it
    liked_ids: tuple[str, ...] = ()  # items named or pointed at with approval (bot/linking.py)
    disliked_ids: tuple[str, ...] = ()
    paging: bool = False  # "show me more": no new request, just the next picks


PAGING = re.compile(r"^\W*(?:(?:please\W+)?(?:show(?: me)?|give me|got any|any)?\W*(?:some(?:thing)?|any(?:thing)?)?"
                    r"\W*(?:more|else|other(?:s| ones| options)?|next)\W*(?:please|ones|options|picks)?\W*)$",
                    re.IGNORECASE)
NEGATIVE_ABOUT = re.compile(r"\b(?:not|no|hated?|dislike[ds]?|didn'?t like|don'?t like|never|avoid|"
                            r"except|boring|awful|terrible|bad|worst|meh)\b", re.IGNORECASE)


def is_paging(message: str) -> bool:
    """'something else', 'show me more', 'more please', 'next' ..."""
    return bool(PAGING.match(message.strip()))


def clause_around(message: str, start: int, end: int) -> str:
    """The clause holding message[start:end], cut at punctuation and 'but'/'however'."""
    left = max(message.rfind(c, 0, start) for c in ".,;!?") + 1
    rights = [i for i in (message.find(c, end) for c in ".,;!?") if i >= 0]
    clause = message[left:min(rights) if rights else len(message)]
    offset = start - left
    before = re.split(r"\b(?:but|however|though|while)\b", clause[:offset], flags=re.IGNORECASE)[-1]
    after = re.split(r"\b(?:but|however|though|while)\b", clause[offset:], flags=re.IGNORECASE)[0]
    return before + after


def is_negative_about(message: str, start: int, end: int) -> bool:
    """Whether the clause around a mention speaks against it ("I hated X", "not #2")."""
    return bool(NEGATIVE_ABOUT.search(clause_around(message, start, end)))


def _genre_cues(text: str) -> dict[str, tuple[str, ...]]:
    low = " " + re.sub(r"[^a-z0-9\- ]+", " ", text.lower()) + " "
    found: dict[str, tuple[str, ...]] = {}
    for genre, words in GENRE_WORDS.items():
        hits = tuple(w for w in words if f" {w} " in low)
        if hits:
            found[genre] = hits
    return found


def read_turn(message: str, catalog_genres: frozenset[str] | None = None) -> TurnReading:
    """Split a message into what is wanted and what is ruled out.

    `catalog_genres` (lower case) limits the genres reported to those the catalog has.
    """
    banned: dict[str, tuple[str, ...]] = {}
    kept = message
    for m in NEGATION.finditer(message):
        scope = CLAUSE_BREAK.split(m.group(1))[0]
        banned.update(_genre_cues(scope))
        kept = kept.replace(message[m.start():m.start(1) + len(scope)], " ", 1)
    for word in re.findall(r"[a-z\-]+", kept.lower()):
        for g in IMPLIED_BANS.get(word, ()):
            banned.setdefault(g, (word,))
    wanted = {g: w for g, w in _genre_cues(kept).items() if g not in banned}

    def known(gs):
        return tuple(g for g in gs if catalog_genres is None or g in catalog_genres)

    text = re.sub(r"\s+", " ", kept).strip(" ,.;")
    return TurnReading(text or message.strip(), known(wanted), known(banned),
                       {g: w for g, w in wanted.items() if g in known(wanted)})
