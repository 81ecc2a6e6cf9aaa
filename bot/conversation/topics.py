"""Reading topics: what a film or a book is about ("a heist movie", "about dogs", "no vampires").

The vocabulary is the catalog's own: the values of its topic facet (retrieval/facets.py
TOPIC_FACET: TMDB keywords for the embedded catalog, a `tags` or `topics` column in a
catalog file) that at least MIN_ITEMS items carry. A phrase of the message names a topic
when its words are one of those values, the last word also in its plural ("dogs" -> dog,
"zombies" -> zombie, "serial killers" -> serial killer). One word that is common in English
(wordfreq Zipf >= CUE_ZIPF: "dogs", "wedding", "school") names a topic only after a cue
("about", "with", "no") or before the kind of item or a genre word ("a dog movie", "a
wedding comedy"); rarer ones ("heist", "dinosaurs") in any case. Words that name a whole
genre or the kind of item are the genre reader's, never topics, and a phrase made of such
words only ("romantic comedy") is the genres; a word that names a corner of a genre
("aliens", "heist") is also a topic when rare enough, or right after "about" ("something
about space"). A capitalised word inside a sentence is a name (an unlinked title: "Black
Panther", "Lady Bird"), never a topic.

Whether a topic is wanted or ruled out ("no vampires", "nothing with clowns") is the
reading stage's call (bot/conversation/reading.py, through the one negation model).
Knows nothing of sessions or scoring.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.conversation.budget import spend
from bot.conversation.commonness import zipf
from retrieval.facets import TOPIC_FACET
from retrieval.records import Catalog

MIN_ITEMS = 2  # a topic value carried by one item only is that item's detail, not a topic people ask for
MAX_WORDS = 3  # words in a topic phrase
CUE_ZIPF = 4.0  # one word at least this common needs a cue ("about dogs" 4.8, "a wedding comedy" 4.8; "heist" 3.4
# and "zombies" 3.8 need none; "trailer" 4.3, "chat" 4.6 and "rent" 4.6 in chat are no topics)
NARROW_ZIPF = 4.2  # a word that also names a corner of a genre ("aliens" 4.0, "dragons" 4.1; "epic" 4.35, "space" 5.2) is a
# topic only when rarer than this, cue or not: "a classic action movie" asks for no keyword "classic"
MIN_LETTERS = 3  # "ufo" yes, "us" no
# Words before a topic that say the next word is what the item is about, or rule it out
CUES = frozenset({"about", "with", "involving", "featuring", "regarding", "concerning", "without", "no", "not",
                  "nothing", "any", "more", "less", "fewer"})
ABOUT = frozenset({"about", "involving", "featuring", "regarding", "concerning"})  # cues that make any word a topic
SENTENCE_END = ".!?"
WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
# Words that are never a topic on their own: the grammar of a request
FUNCTION_WORDS = frozenset("""a an the and or but not no nothing any some something anything more less very really
just please me my our your we i you it that this these those want like love liked good great best bad new old
one ones kind sort type movie movies film films book books show shows watch read see hate hated fan""".split())


@dataclass(frozen=True)
class TopicSpan:
    start: int
    end: int
    value: str  # the topic as the catalog spells it


def singulars(word: str) -> tuple[str, ...]:
    """The word and the singulars it may be the plural of: "zombies" -> (zombies, zombie,
    zomby); "dogs" -> (dogs, dog); "boxes" -> (boxes, boxe, box). Only the endings English
    plurals take "-es" after lose it whole ("james" is no plural of "jam")."""
    out = [word]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
        if word.endswith(("ses", "xes", "zes", "ches", "shes")):
            out.append(word[:-2])
        if word.endswith("ies"):
            out.append(word[:-3] + "y")
    return tuple(out)


# An adjective and the noun a catalog tags ("gory" -> gore, "bloody" -> blood, "violent" ->
# violence, "magical" -> magic): English endings, tried only where the word is no topic itself
ADJECTIVE_ENDINGS = (("y", ""), ("y", "e"), ("ent", "ence"), ("ant", "ance"), ("al", ""), ("ic", ""),
                     ("ous", ""), ("ful", ""))
MIN_BASE = 4  # letters of such a noun ("gore"; not "fun" from "funny")


def bases(word: str) -> tuple[str, ...]:
    """The nouns an adjective may be made from, by ADJECTIVE_ENDINGS: "gory" -> (gor, gore)."""
    return tuple(dict.fromkeys(word[:-len(end)] + base for end, base in ADJECTIVE_ENDINGS
                               if word.endswith(end) and len(word) - len(end) + len(base) >= MIN_BASE))


class TopicReader:
    """The topics of one catalog and how to find them in a message."""

    def __init__(self, catalog: Catalog, reserved: frozenset[str] = frozenset(),
                 narrow: frozenset[str] = frozenset()) -> None:
        """`reserved`: words and phrases another reader owns (a whole genre's cues, the kind of
        item); `narrow`: genre cues that name a corner of one ("heist"), topics when rare."""
        counts = Counter(v.casefold() for it in catalog.items for v in dict.fromkeys(
            it.facets.categories.get(TOPIC_FACET, ())))
        self.reserved = reserved
        self.narrow = narrow
        self.topics = {v: n for v, n in counts.items() if n >= MIN_ITEMS and self._usable(v)}
        self.max_words = max((len(v.split()) for v in self.topics), default=0)
        self.kind_words = frozenset(catalog.kind.words())

    def _usable(self, value: str) -> bool:
        words = value.split()
        return (0 < len(words) <= MAX_WORDS and value not in self.reserved and not value.isdigit()
                and not (len(words) == 1 and (len(value) < MIN_LETTERS or value in FUNCTION_WORDS)))

    def lookup(self, words: list[str]) -> str | None:
        """The topic these message words name (the last one may be a plural, or an adjective
        of the topic: "gory" -> gore), or None."""
        head = " ".join(words[:-1])
        for forms in (singulars(words[-1]), bases(words[-1])):  # an adjective's noun only when no plural fits
            best = None
            for last in forms:
                phrase = f"{head} {last}" if head else last
                if phrase in self.topics and (best is None or self.topics[phrase] > self.topics[best]):
                    best = phrase
            if best is not None:
                return best
        return None

    def find(self, message: str) -> list[TopicSpan]:
        """Topics in `message` (spans in its offsets), longest phrase first, none overlapping
        another. The caller blanks what other readers took (titles, people) beforehand."""
        if not self.topics:
            return []
        low = message.lower()
        tokens = [(m.start(), m.end(), m.group(0).strip("'-")) for m in WORD.finditer(low)]
        used = [False] * len(tokens)
        found: list[TopicSpan] = []
        for n in range(min(self.max_words, len(tokens)), 0, -1):
            spend()
            for i in range(len(tokens) - n + 1):
                if any(used[i:i + n]):
                    continue
                words = [t for _, _, t in tokens[i:i + n]]
                if n == 1 and any(w in FUNCTION_WORDS or w in self.kind_words for w in singulars(words[0])):
                    continue
                if n > 1 and any(w in self.kind_words for w in singulars(words[-1])) and self.lookup(words[:-1]):
                    continue  # "heist movie": the topic is the words before the kind of item ("picture books" stays)
                value = self.lookup(words)
                if value is None or all(w in self.reserved for w in words):
                    continue
                a, b = tokens[i][0], tokens[i + n - 1][1]
                if any(message[s].isupper() and not self._sentence_start(message, s) for s, _, _ in tokens[i:i + n]):
                    continue  # "Black Panther", "Lady Bird": a name the linker did not take
                narrow = n == 1 and any(w in self.narrow for w in singulars(words[0]))
                about = i >= 1 and tokens[i - 1][2] in ABOUT  # "something about space"
                if n == 1 and not about and (zipf(words[0]) >= (NARROW_ZIPF if narrow else CUE_ZIPF)
                                             and (narrow or not self._cued(tokens, i))):
                    continue
                found.append(TopicSpan(a, b, value))
                head = self.lookup(words[:-1]) if n > 1 and any(w in self.reserved for w in singulars(words[-1])) else None
                if head is not None:  # "courtroom dramas": the shelf, and what it is about
                    found.append(TopicSpan(a, tokens[i + n - 2][1], head))
                for k in range(i, i + n):
                    used[k] = True
        return sorted(found, key=lambda t: t.start)

    @staticmethod
    def _sentence_start(message: str, at: int) -> bool:
        before = message[:at].rstrip(" \"'(")
        return not before or before[-1] in SENTENCE_END

    def _cued(self, tokens: list[tuple[int, int, str]], i: int) -> bool:
        """A cue before the word ("about dogs", "with a dog") or the kind of item or a genre
        after it ("a dog movie", "a wedding comedy")."""
        before = [t for _, _, t in tokens[max(0, i - 2):i]]
        after = tokens[i + 1][2] if i + 1 < len(tokens) else ""
        return (bool(before) and (before[-1] in CUES or (len(before) == 2 and before[0] in CUES
                                                         and before[1] in ("a", "an", "the", "some", "lots")))) \
            or any(w in self.kind_words or w in self.reserved for w in singulars(after))
