"""Reading one user message with rules (no LLM): which genres it asks for, which it
rules out, which years it allows, and the text left for the encoder once negated
phrases, year phrases and filler are removed.

The genre words come from the catalog (bot/conversation/vocabulary.py), so another catalog gets its
own genres, never MovieLens's. A negated phrase that names no genre ("not world war 2")
bans nothing: it is reported back as something the bot could not use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.records import FacetFilter
from bot.conversation.negation import negated_scopes
from bot.conversation.records import Reading, Years
from bot.conversation.vocabulary import MOODS, MOVIELENS_GENRES, NARROW, GenreVocabulary, canonical

# Words that rule a genre out without a negation ("for adults" is not a children's film).
IMPLIED_BANS: dict[str, tuple[str, ...]] = {
    "adult": ("children",), "adults": ("children",), "grown-up": ("children",),
    "grown-ups": ("children",), "grown": ("children",), "mature": ("children",),
}

# "show me more", "something else please", "any others?": matched on the message's words joined by
# single spaces, so no run of punctuation or emoji can make the pattern backtrack (linear time).
PAGING = re.compile(r"(?:please )?(?:(?:show(?: me)?|give me|got any|any) )?(?:(?:some(?:thing)?|any(?:thing)?) )?"
                    r"(?:more|else|others?|other ones|other options|next|different ones|new ones)"
                    r"(?: (?:please|pls|plz|ones|options|picks))?", re.IGNORECASE)

SWITCH = re.compile(r"^\W*(?:ok(?:ay)?\W+|well\W+)?(?:now|instead|actually|how about|what about|"
                    r"(?:let'?s |lets )?(?:try |change to |switch to )|something (?:different|else entirely))\b",
                    re.IGNORECASE)


def is_switch(message: str) -> bool:
    """'now something darker', 'how about a western', 'actually, a comedy': a new request."""
    return bool(SWITCH.match(message))


def is_paging(message: str) -> bool:
    """'something else', 'show me more', 'more please', 'next' ..."""
    return bool(PAGING.fullmatch(" ".join(re.findall(r"[a-z']+", message.lower()))))


# --- years -------------------------------------------------------------------------------
Y = r"((?:19|20)\d\d)"
DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                "seventies": 1970, "eighties": 1980, "nineties": 1990}
PART = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}
THE = r"(?:\b(?:from|in|of)\s+)?(?:\bthe\s+)?(?:\b|(?=')|(?<=-))"  # "from the 80s" goes whole
AGE = r"(?<!their )(?<!my )(?<!our )(?<!his )(?<!her )(?<!your )"  # "in their 30s" is an age
# (pattern, kind); the first pattern that matches a stretch of the message wins it.
YEAR_PATTERNS = [
    (re.compile(rf"\b(?:between|from)\s+{Y}\s*(?:and|to|-|–|until|till)\s*{Y}\b", re.I), "range"),
    (re.compile(rf"\b{Y}\s*(?:-|–|to)\s*{Y}\b", re.I), "range"),
    (re.compile(rf"\b(?:after|post-?|newer than|later than)\s*{Y}\b", re.I), "after"),
    (re.compile(rf"\b(?:since|from)\s+{Y}\s+(?:on|onwards?|and later|or later)\b|\b{Y}\s+(?:or|and) (?:later|newer|after)\b", re.I), "since"),
    (re.compile(rf"\bsince\s+{Y}\b", re.I), "since"),
    (re.compile(rf"\b(?:before|pre-?|older than|earlier than)\s*{Y}\b", re.I), "before"),
    (re.compile(rf"\b(?:until|till|up to|through)\s+{Y}\b|\b{Y}\s+(?:or|and) (?:earlier|older|before)\b", re.I), "until"),
    # (bounded runs: "[\s-]{0,3}", not "*", so a run of dashes cannot make a search quadratic)
    (re.compile(rf"{THE}{AGE}(early|mid|late)?[\s-]{{0,3}}{AGE}(?:(19|20)(\d)0|'?(\d)0)'?s\b", re.I), "decade"),
    (re.compile(rf"{THE}(early|mid|late)?[\s-]{{0,3}}(" + "|".join(DECADE_WORDS) + r")\b", re.I), "decade_word"),
    (re.compile(rf"\b(?:in|from|of)\s+{Y}\b(?!s)", re.I), "year"),
    (re.compile(r"\bany (?:year|decade|era|time|period)\b|\b(?:year|decade|era) doesn'?t matter\b", re.I), "any"),
]
# "older kids", "an old crowd": an age of people after the word, not of films
PEOPLE_AGE = r"kids?|children|teens?|audiences?|viewers|people|folks|crowd"
OLDER = re.compile(r"\b(?:older|old[- ]school|vintage|oldies|old (?:movies?|films?|ones?|stuff|classics?))\b"
                   rf"(?!\s+(?:{PEOPLE_AGE}|brothers?|sisters?|sons?|daughters?))", re.I)
NEWER = re.compile(r"\b(?:more recent|newer|recent|latest|modern|new releases?)\b", re.I)
SETTING = re.compile(r"\b(?:set|takes? place|taking place|happens?|happening)\s+(?:in|during|around|before|after)\s+"
                     r"(?:the\s+)?(?:early\s+|mid\s+|late\s+)?(?:\d{4}s?|'?\d0s|\w+ties|\d{1,2}(?:st|nd|rd|th) century)\b",
                     re.IGNORECASE)
# A negated age is a limit the other way round: "nothing too old", "no old movies" ->
# OLD_BEFORE or later; "not too recent", "nothing too new" -> before the recent span. Only
# right after the negation ("not the new one", "not sure it is that old" are no limits),
# and "new" only with "too"-like words ("it will be entirely new" is not either).
NEGATED_AGE = re.compile(r"\b(?:no|not|nothing|none)\s+(?:(?:too|overly|super|very)\s+(old|new|recent)|(old|recent))\b"
                         rf"(?!\s+(?:{PEOPLE_AGE}|enough))", re.I)
OLD_BEFORE = 1980  # "old movies" with nothing to compare to: released before 1980
RECENT_SPAN = 10  # "recent": the catalog's last ten years


def _year_span(kind: str, m: re.Match, negated: bool) -> Years | None:
    g = list(m.groups())
    if kind == "range":
        a, b = sorted((int(g[0]), int(g[1])))
        return None if negated else Years(a, b)
    if kind in ("after", "since", "before", "until"):
        y = int(next(x for x in g if x))
        first = {"after": y + 1, "since": y}.get(kind)
        last = {"before": y - 1, "until": y}.get(kind)
        if negated:  # "nothing before 1990" = 1990 or later
            first, last = (None if last is None else last + 1), (None if first is None else first - 1)
        return Years(first, last)
    if kind in ("decade", "decade_word"):
        if negated:
            return None  # "not the 80s" is two ranges; left to the words
        part = (g[0] or "").lower()
        if kind == "decade_word":
            start = DECADE_WORDS[g[1].lower()]
        elif g[1]:
            start = int(g[1] + g[2] + "0")
        else:  # two digits: '00s and '10s are this century, '20s-'90s the last one
            start = (2000 if int(g[3]) <= 1 else 1900) + int(g[3]) * 10
        lo, hi = PART.get(part, (0, 9))
        return Years(start + lo, start + hi)
    if kind == "year":
        return None if negated else Years(int(g[0]), int(g[0]))
    return Years()  # "any year"


def read_years(message: str, newest_year: int | None = None) -> tuple[Years | None, str, str]:
    """(the years asked for, "older"/"newer" when only a comparative was said (not both),
    the message less its year phrases). The last year phrase of a message wins; a negated one is
    inverted where that gives one range ("nothing before 1990") and ignored otherwise.
    "recent" needs `newest_year` (the catalog's newest item)."""
    negated = [(a, b) for a, b, _ in negated_scopes(message)]
    found: list[tuple[int, Years | None]] = []
    rest = message
    # "set in the 1920s", "takes place in 1850": when a story happens, not when it came out;
    # the words stay for the encoder
    setting = [(m.start(), m.end()) for m in SETTING.finditer(message)]

    def year_phrase(m: re.Match) -> bool:
        return not any(a <= m.start() < b for a, b in setting)
    for pattern, kind in YEAR_PATTERNS:
        for m in pattern.finditer(rest):
            if year_phrase(m):
                neg = any(a <= m.start() < b for a, b in negated)
                found.append((m.start(), _year_span(kind, m, neg)))
        # blank the year phrases, keeping offsets for the next patterns
        rest = pattern.sub(lambda m: " " * len(m.group(0)) if year_phrase(m) else m.group(0), rest)
    comparatives = set()
    for m in NEGATED_AGE.finditer(rest):
        old = (m.group(1) or m.group(2)).lower() == "old"
        found.append((m.start(), Years(OLD_BEFORE, None) if old else
                      Years(None, newest_year - RECENT_SPAN) if newest_year is not None else None))
    rest = NEGATED_AGE.sub(lambda m: " " * len(m.group(0)), rest)
    for pattern, word in ((OLDER, "older"), (NEWER, "newer")):
        for m in pattern.finditer(rest):
            # "nothing older" (than what was shown) asks for the other side
            comparatives.add(({"older": "newer", "newer": "older"}[word])
                             if any(a <= m.start() < b for a, b in negated) else word)
        rest = pattern.sub(lambda m: " " * len(m.group(0)), rest)
    # "older ones like X, and newer ones like Y" is a taste, not a limit: both cancel out
    relative = comparatives.pop() if len(comparatives) == 1 else ""
    years = next((y for _, y in sorted(found, key=lambda f: f[0], reverse=True) if y is not None), None)
    if years is not None:
        relative = ""  # a number beats a comparative ("more recent, after 2000")
    elif relative == "newer" and re.search(r"\b(?:recent|latest|modern|new releases?)\b", message, re.I) \
            and not re.search(r"\bmore recent\b", message, re.I) and newest_year is not None:
        years, relative = Years(newest_year - RECENT_SPAN + 1, None), ""
    return years, relative, re.sub(r"\s+", " ", rest)


def resolve_relative(relative: str, reference_years: list[int]) -> Years | None:
    """"older"/"newer" than the given years (a named film, the last list): before the
    earliest / after the latest. With nothing to compare to, "older" means before 1980
    and "newer" stays unresolved (None)."""
    if relative == "older":
        return Years(None, (min(reference_years) if reference_years else OLD_BEFORE) - 1)
    if relative == "newer" and reference_years:
        return Years(max(reference_years) + 1, None)
    return None


# Words that carry no request on their own: a turn made only of them ("please", "not that
# one", "something more recent") adds no text for the encoder.
FILLER = frozenset("""a an the and or but though although so i me my you we to of for in on at with about please pls
thanks thank ok okay yes yeah well now then also too just really maybe still again instead
something anything some any one ones stuff movie movies film films show give get got see watch
want would like could can should let lets be is are that this it its what else other others
more less much very bit little fine from released made came out love loved liked enjoy enjoyed
adore adored hate hated dislike disliked saw seen watched
hello hi hey bye goodbye good great nice cool awesome sure lol haha yep nope glad sounds sound
perfect excellent amazing wonderful brilliant lovely fantastic superb thx cheers
heard hear think thought check checked while ago yet already recommend recommendation
recommendations suggest suggestion suggestions help helped hope day night have has had do does
did will watching look looking find found know mean i'm i've i'll it's that's im ive been was were am
how today tonight morning afternoon evening hii hiya howdy all every there folks everyone
your you're yours our ours us he she they they're their theirs his her hers them those these
def defo lmao lmfao tbh idk pls plz u ur r smth sth w kinda sorta gonna wanna imo rn omg ngl btw
tho altho ty tbf lmk ya yea yup hahaha""".split())


def has_content(text: str, kind_words: frozenset[str] = frozenset()) -> bool:
    """Whether `text` holds a word that asks for something (not filler, not "book")."""
    return any(w not in FILLER and w not in kind_words for w in re.findall(r"[a-z0-9']+", text.lower()))


DEFAULT_VOCABULARY = GenreVocabulary.of(MOVIELENS_GENRES)
# Words that may sit next to a genre word in a phrase that rules the genre out ("no horror
# movies", "nothing too scary", "not a comedy please").
GENRE_NEIGHBOURS = FILLER | frozenset("too very overly really any more of kind sort type genre genres stuff feeling "
                                      "into tonight".split())
# Words of a reference to the last list ("not the first one", "not #2"): the bot acts on it
# (bot/conversation/linking.py list_references), so it is never a phrase the bot "can't rule out".
LIST_REFERENCE_WORDS = frozenset("first second third fourth fifth sixth seventh eighth ninth tenth last one ones "
                                 "number".split()) | frozenset(str(n) for n in range(1, 21))


def _bans(scope: str, vocabulary: GenreVocabulary, extra_filler: frozenset[str]) -> tuple[dict, list, str]:
    """(genre -> cue words it bans, narrow words it bans, the phrase it could not use) for
    one negated scope. A cue bans its genre only when its neighbours are function words or
    other cues: "no horror movies" bans Horror, "not world war 2" bans nothing."""
    words = re.findall(r"[a-z0-9\-']+", scope.lower())
    ok = GENRE_NEIGHBOURS | extra_filler | vocabulary.words()
    banned: dict[str, tuple[str, ...]] = {}
    narrow: list[str] = []
    moods: list[str] = []
    for genre, cues in vocabulary.find(scope).items():
        governed = []
        for cue in cues:
            n = len(cue.split())
            for i in range(len(words) - n + 1):
                if " ".join(words[i:i + n]) == cue and all(
                        w in ok for w in words[max(0, i - 1):i] + words[i + n:i + n + 1]):
                    governed.append(cue)
                    break
        broad = tuple(w for w in governed if w not in NARROW and w not in MOODS)
        if broad:
            banned[genre] = broad
        for w in governed:
            if w in NARROW and " " not in w:  # "aliens" also rules out "Alien"
                narrow.extend([w, w[:-1]] if w.endswith("s") and len(w) > 4 else [w])
        moods += [w for w in governed if w in MOODS]
    # "nothing too sad" rules out neither dramas nor titles with "sad": said back as unused
    content = [w for w in words if w not in ok and w not in LIST_REFERENCE_WORDS] + moods
    unused = " ".join(words).strip() if content and not banned and not narrow else ""
    return banned, narrow, unused


def read_turn(message: str, vocabulary: GenreVocabulary | None = None,
              newest_year: int | None = None, kind_words: frozenset[str] = frozenset()) -> Reading:
    """Split a message into what is wanted and what is ruled out.

    `vocabulary` holds the catalog's genre words (default: MovieLens's genres);
    `newest_year` (the catalog's newest item) anchors "recent"; `kind_words` ("book",
    "novels") name the catalog's kind of item and never count as a request.
    """
    vocabulary = vocabulary or DEFAULT_VOCABULARY
    banned: dict[str, tuple[str, ...]] = {}
    narrow_words: list[str] = []
    unused: list[str] = []
    years, relative, message = read_years(message, newest_year)
    kept = message
    for start, end, scope in negated_scopes(message):
        b, n, u = _bans(scope, vocabulary, kind_words)
        banned.update(b)
        narrow_words += n
        unused += [u] if u else []
        kept = kept.replace(message[start:end], " ", 1)
    for word in re.findall(r"[a-z\-]+", kept.lower()):
        for target in IMPLIED_BANS.get(word, ()):
            for g in vocabulary.cues:
                if canonical(g) == target:
                    banned.setdefault(g, (word,))
    wanted = {g: w for g, w in vocabulary.find(kept).items() if g not in banned}
    text = re.sub(r"\s+", " ", kept).strip(" ,.;'\"")
    return Reading(text if has_content(text, kind_words) else "", tuple(wanted), tuple(banned), wanted,
                       years=years, relative_years=relative, banned_words=tuple(dict.fromkeys(narrow_words)),
                       switch=is_switch(message), unused=tuple(unused))
