"""What kind of message this is, before it is read as a request: small talk, a question
about one item, a question about something else, or a message in another language.

Rules, no model: a handful of patterns and word lists. A message none of them catches is
a request. Knows nothing of catalogs beyond the words it is given, or of sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GREETING = re.compile(r"^\W*(?:hi+|hello|hey|hiya|howdy|good (?:morning|afternoon|evening)|yo|greetings)\b", re.I)
THANKS = re.compile(r"\b(?:thanks?|thank you|thx|thnx|cheers|ty|tysm|tyvm)\b", re.I)
BYE = re.compile(r"\b(?:bye+|good ?bye|see you|see ya|good ?night|(?:k |ok )?night|gn|gotta go|gtg|ttyl|"
                 r"take care|you too|later|"
                 r"have an? (?:good|great|nice|wonderful|lovely) (?:day|night|evening|weekend|one)|"
                 r"thanks? (?:you )?for (?:your time|the chat|chatting|talking)|nice (?:talking|chatting))\b", re.I)
# Words that only thank or take leave ("thanks a lot", "cheers mate", "ok thanks, that works"):
# a thanks or a goodbye made of them and filler words is small talk, not a request
COURTESY = frozenset("lot lots bunch ton tons mate man buddy dude works worked helpful appreciate appreciated".split())
HELP = re.compile(r"^\W*(?:help|what can you do|how does this work|\?+)\W*$", re.I)
QUESTION = re.compile(r"^\W*(?:what|who|whos|who's|where|when|why|how|is|are|can|could|do|does|will|should)\b|\?\s*$",
                      re.I)
# Words that make a question a request for picks ("what should I watch?", "can you recommend...").
REQUEST_WORDS = frozenset("""recommend recommendation recommendations suggest suggestion suggestions
something anything similar want looking find show give pick picks good best more options""".split())

# "who directed Jaws?", "who's in Heat", "how long is Titanic", "what is Up rated": (facet, title)
ITEM_QUESTIONS = [
    (re.compile(r"^\W*who\s+(?:directed|made|was the director of|is the director of)\s+(.+?)\W*$", re.I), "director"),
    (re.compile(r"^\W*who\s+(?:wrote|is the author of|was the author of|is the writer of)\s+(.+?)\W*$", re.I), "writer"),
    (re.compile(r"^\W*(?:who(?:'s| is| was|s)?\s+(?:in|starring in|the cast of|acting in)|who\s+(?:stars|starred|plays|played)"
                r"\s+in)\s+(.+?)\W*$", re.I), "cast"),
    (re.compile(r"^\W*how\s+(?:long|many pages)\s+(?:is|was|does)\s+(.+?)(?:\s+(?:last|run|take))?\W*$", re.I), "length"),
    (re.compile(r"^\W*what(?:'s| is| was)\s+(.+?)\s+rated\W*$|^\W*what\s+(?:is the )?rating (?:of|for)\s+(.+?)\W*$",
                re.I), "rating"),
    (re.compile(r"^\W*when\s+(?:was|did)\s+(.+?)\s+(?:come out|released|made|published|out)\W*$", re.I), "year"),
    (re.compile(r"^\W*what(?:'s| is|s| was)\s+(.+?)\s+about\W*$", re.I), "about"),
]

# A few very common words of other languages that English messages never use.
FOREIGN_WORDS = {
    "Spanish": frozenset("quiero una película películas que con para algo como pero muy también libro libros".split()),
    "French": frozenset("je veux un une des avec pour quelque chose comme mais très aussi livre livres film drôle".split()),
    "German": frozenset("ich möchte einen eine mit für etwas wie aber sehr auch buch bücher lustigen und nicht".split()),
    "Italian": frozenset("voglio vorrei uno una con per qualcosa come ma molto anche libro libri divertente".split()),
    "Portuguese": frozenset("quero um uma com para algo como mas muito também livro livros filme engraçado".split()),
    "Dutch": frozenset("ik wil een met voor iets zoals maar heel ook boek boeken grappige".split()),
}
ENGLISH = frozenset("""i a an the with for something like but very also book books movie movies film films
want would please and or not no of to in on me my""".split())


@dataclass(frozen=True)
class ItemQuestion:
    facet: str  # director | writer | cast | length | rating | year | about
    title: str  # the words naming the item, as written


def small_talk(message: str) -> str | None:
    """'greeting' | 'thanks' | 'bye' | 'help' | None."""
    if HELP.match(message):
        return "help"
    if GREETING.match(message):
        return "greeting"
    if BYE.search(message):
        return "bye"
    if THANKS.search(message):
        return "thanks"
    return None


def item_question(message: str) -> ItemQuestion | None:
    for pattern, facet in ITEM_QUESTIONS:
        m = pattern.match(message)
        if m:
            title = next(g for g in m.groups() if g)
            return ItemQuestion(facet, title.strip(" \"'“”‘’"))
    return None


def is_question(message: str) -> bool:
    return bool(QUESTION.search(message))


def asks_for_picks(message: str, kind_words: frozenset[str], verb: str) -> bool:
    """Whether a message names the catalog's items or a request verb ("what should I watch?")."""
    words = set(re.findall(r"[a-z']+", message.lower()))
    return bool(words & (REQUEST_WORDS | kind_words | {verb}))


def foreign_language(message: str) -> str | None:
    """The language a message is written in when it is clearly not English, else None:
    letters of another script, or more common words of one other language than of English."""
    letters = [c for c in message if c.isalpha()]
    if letters and sum(not ("a" <= c.lower() <= "z" or c in "éèêàâçñüöäßíóúãõ") for c in letters) > len(letters) / 2:
        return "another script"
    words = re.findall(r"[^\W\d_]+", message.lower())
    if len(words) < 3:
        return None
    english = sum(w in ENGLISH for w in words)
    best = max(FOREIGN_WORDS, key=lambda lang: sum(w in FOREIGN_WORDS[lang] for w in words))
    hits = sum(w in FOREIGN_WORDS[best] for w in words)
    return best if hits >= 2 and hits > english else None
