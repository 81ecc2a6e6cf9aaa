"""Reading facet requests in one message: people, numeric limits and categories.

- People link like titles: full names, case- and typo-tolerant ("tom hanks", "Cristopher
  Nolan"), and the surname of a well-known person ("a Nolan film", "with Hanks"). A cue
  before the name gives the role: "directed by" / "a X film" -> director, "with" /
  "starring" -> cast, "written by" -> writer, "by" -> author where the catalog has
  authors. Without one, any role matches.
- Numbers: "under 2 hours", "shorter than 90 minutes", "over 400 pages", "I only have an
  hour and a half", "a short one", "a short horror movie", "something short", "a long
  book", on the catalog's numeric facets by unit (min, pages).
- Categories: "in French", "rated PG-13", "PG", "family friendly" (MPAA G or PG), on the
  catalog's category facets.
Each becomes a `FacetFilter` (negated inside "no"/"not"/"nothing with" scopes). What the
message asks for that the catalog cannot check ("under 2 hours" without runtimes) is
returned as `unusable`, to be said plainly. Knows nothing of sessions or scoring.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bot.conversation.budget import spend
from bot.conversation.commonness import zipf
from bot.conversation.linking import FuzzyKeys
from bot.conversation.negation import negated_scopes
from retrieval.facets import DEFAULT_UNITS, LENGTH_FACETS
from retrieval.records import Catalog, FacetFilter
from retrieval.titles import fold

NAME_WORD = re.compile(r"[a-z0-9]+")
FUZZY_MIN = 90  # rapidfuzz ratio: one typo in a full name of 10+ letters
SURNAME_MIN_ITEMS = 5  # a surname alone names a person credited on at least this many items ...
SURNAME_LEAD = 3  # ... and on this many times more items than anyone else of that surname
# Cue words before a name and the role they give ("" = any role).
ROLE_CUES = [
    (re.compile(r"(?:directed by|director|from director)\s*$", re.I), "director"),
    (re.compile(r"(?:written by|writer|screenplay by)\s*$", re.I), "writer"),
    (re.compile(r"(?:starring|featuring|with|\bw/?|actor|actress|stars?)\s*$", re.I), "cast"),
    (re.compile(r"(?:music by|score by|composed by)\s*$", re.I), "composer"),
    (re.compile(r"\bby\s*$", re.I), "by"),
]
# A surname or first name that is also an everyday word ("Good", "Stone") needs a cue, not just
# capitals ("Good movies" is no Meagan Good film); one rarer than RARE_NAME_ZIPF ("scorsese")
# is a person in any case (wordfreq's Zipf scale, bot/conversation/commonness.py).
NAME_ZIPF = 5.0
RARE_NAME_ZIPF = 3.2
CUE_WINDOW = 40  # characters before a name searched for its cue: the longest cue is 20
# A well-known surname right after a negation is a person in any case: "def not nolan", "no hanks"
RULED_OUT = re.compile(r"\b(?:no|not|nothing|without|except|nah|never|none of)\s*$", re.I)
# "short"/"long" with nothing else: below the 25th / above the 75th percentile of the facet.
SHORT_Q, LONG_Q = 25, 75
UNIT_WORDS = {"min": r"(?:minutes?|mins?|hours?|hrs?|h)", "pages": r"(?:pages?|pp)"}
# "I only have 90 minutes", "we've got about an hour": the time there is, an upper limit
HAVE = r"(?:only\s+)?(?:have|got)(?:\s+(?:just|only|about|around|roughly))?"
LESS = rf"(?:under|less than|shorter than|below|at most|no more than|max(?:imum)?|up to|within|{HAVE})"
MORE = r"(?:over|more than|longer than|above|at least|min(?:imum)?)"
NUM = r"(\d+(?:\.\d+)?|an?|one|two|three|half an?)"
WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "half a": 0.5, "half an": 0.5}
# Category words: (facet, regex, values). Values must exist in the catalog to be used.
MPAA_VALUES = ("G", "PG", "PG-13", "R", "NC-17")
LANGUAGES = ("English French Spanish German Italian Japanese Korean Chinese Mandarin Cantonese Hindi "
             "Russian Portuguese Swedish Danish Norwegian Dutch Polish Turkish Arabic Persian Greek").split()
SETTING_FACETS = ("setting", "place", "location", "period", "era")  # category facets of where/when a story is set
# Requests the bot cannot act on, said back plainly: (pattern, what it cannot filter by).
UNSUPPORTED = [
    (re.compile(r"\bon (?:netflix|hulu|prime|amazon prime|disney\+?|hbo|max|apple tv)\b", re.I),
     "where it is streaming"),
    (re.compile(r"\b(?:imdb|rotten tomatoes|metacritic)\b|\b(?:rated|rating|score) (?:above|over|of at least) \d", re.I),
     "review scores"),
    (re.compile(r"\bsubtitle[sd]?\b|\bdubbed\b", re.I), "subtitles"),
    (re.compile(r"\b(?:in|on) (?:4k|hd|blu-?ray|dvd|imax)\b", re.I), "format"),
    # moods no genre stands for (bot/conversation/vocabulary.py reads "feel-good", "sad"... as genres on
    # screen); "I'm in the mood for a comedy" asks for a genre: not a mood
    (re.compile(r"\b(?:moody|mood(?!\s+for\b))\b", re.I), "mood"),
]
# "in French", "a Japanese film", "foreign-language movies": asked of a catalog without a
# language facet, said back plainly instead of matching the word in titles.
LANGUAGE_ASK = re.compile(
    rf"\b(?:in|language:?)\s+(?:{'|'.join(LANGUAGES)})\b|\b(?:{'|'.join(LANGUAGES)})[- ]"
    r"(?:language|speaking|film|films|movie|movies|cinema)\b|\bforeign(?:[- ]language)?\s+(?:film|films|movie|movies)\b",
    re.I)


@dataclass(frozen=True)
class FacetReading:
    filters: tuple[FacetFilter, ...] = ()
    people: tuple[tuple[str, str], ...] = ()  # (name, role or "") asked for, not negated
    unusable: tuple[str, ...] = ()  # "runtime" (asked for, catalog lacks it), "streaming" ...
    spans: tuple[tuple[int, int], ...] = field(default=())  # character ranges read (blanked after)
    found: tuple[tuple[int, int, FacetFilter], ...] = ()  # each filter with the characters it was read from


class PeopleIndex:
    """Every person of a catalog's facets: folded full name -> (name, roles, item count)."""

    def __init__(self, catalog: Catalog) -> None:
        counts: Counter[str] = Counter()
        roles: dict[str, Counter[str]] = {}
        spelled: dict[str, str] = {}
        for item in catalog.items:
            for role, names in item.facets.people.items():
                for name in names:
                    key = " ".join(NAME_WORD.findall(fold(name)))
                    if not key:
                        continue
                    spelled.setdefault(key, name)
                    counts[key] += 1
                    roles.setdefault(key, Counter())[role] += 1
        self.counts, self.roles, self.spelled = counts, roles, spelled
        self.keys = [k for k in counts if len(k.split()) >= 2]
        self.fuzzy = FuzzyKeys(self.keys)  # typo-tolerant names without scoring every key
        by_surname: dict[str, list[str]] = {}
        for k in self.keys:
            by_surname.setdefault(k.split()[-1], []).append(k)
        self.surnames: dict[str, str] = {}
        for surname, keys in by_surname.items():
            ranked = sorted(keys, key=lambda k: -counts[k])
            top = counts[ranked[0]]
            runner = counts[ranked[1]] if len(ranked) > 1 else 0
            if top >= SURNAME_MIN_ITEMS and top >= SURNAME_LEAD * runner:
                self.surnames[surname] = ranked[0]
        # a first name that one well-known person owns the same way ("denzel", "keanu"), by the
        # same rule; kept apart from surnames so "a Tom film" never means one Tom
        by_first: dict[str, list[str]] = {}
        for k in self.keys:
            by_first.setdefault(k.split()[0], []).append(k)
        for first, keys in by_first.items():
            ranked = sorted(keys, key=lambda k: -counts[k])
            runner = counts[ranked[1]] if len(ranked) > 1 else 0
            if counts[ranked[0]] >= SURNAME_MIN_ITEMS and counts[ranked[0]] >= SURNAME_LEAD * runner \
                    and first not in self.surnames and zipf(first) < NAME_ZIPF:
                self.surnames[first] = ranked[0]
        self.max_words = max((len(k.split()) for k in self.keys), default=0)
        self.all_roles = frozenset(r for c in roles.values() for r in c)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def main_role(self, key: str) -> str:
        return self.roles[key].most_common(1)[0][0]


def _role_for(cue: str, person_roles: Counter[str], catalog_roles: frozenset[str]) -> str:
    """The role a cue gives, kept only when the person holds it ("" = any role)."""
    if cue == "by":  # "books by King": author; "a film by Nolan": director
        for role in ("author", "director", "writer", "creator", "artist", "brand"):
            if role in catalog_roles and person_roles.get(role):
                return role
        return ""
    return cue if person_roles.get(cue) else ""


def _negated(message: str):
    """pos -> whether a negation ("no", "nothing with", "not") governs that character."""
    scopes = [(a, b) for a, b, _ in negated_scopes(message)]
    return lambda pos: any(a <= pos < b for a, b in scopes)


def read_people(message: str, index: PeopleIndex) -> list[tuple[int, int, str, str, bool]]:
    """(start, end, name, role, negated) for each person named in `message`."""
    negated = _negated(message)
    if not index:
        return []
    # words; a possessive "'s" is not part of the name ("Spielberg's best")
    spans = [(m.start(), m.end() - (2 if re.search(r"['’]s$", m.group(0)) else 0))
             for m in re.finditer(r"[A-Za-z0-9][\w.'’\-]*", message)]
    words = [" ".join(NAME_WORD.findall(fold(message[a:b]))) for a, b in spans]
    taken = [False] * len(spans)
    looked_up: dict[str, tuple | None] = {}  # phrase -> its fuzzy match, once per message
    out = []
    for n in range(min(index.max_words, len(spans)), 0, -1):
        spend()
        for s in range(len(spans) - n + 1):
            if any(taken[s:s + n]) or not all(words[s:s + n]):
                continue
            a, b = spans[s][0], spans[s + n - 1][1]
            if re.search(r"[,.;!?]", message[a:b].rstrip(".")):
                continue  # a name does not run across a comma
            phrase = " ".join(words[s:s + n])
            if not (phrase in index.surnames if n == 1 else (phrase in index.counts or len(phrase) >= 10)):
                continue  # no name can start here (cheap test first: the cue search below is not)
            # the cues end right before the name; a word the window cuts is dropped ("baby" is no "by")
            before = message[a - CUE_WINDOW:a].partition(" ")[2] if a > CUE_WINDOW else message[:a]
            after = message[b:b + 20]
            capital = message[a].isupper()
            cue = next((role for pat, role in ROLE_CUES if pat.search(before)), None)
            owner = re.match(r"(?:['’]s\b|\s*(?:films?|movies?|books?|novels?)\b)", after, re.I)
            key = None
            if n >= 2:
                if phrase in index.counts:
                    key = phrase
                elif (capital or cue) and len(phrase) >= 10:
                    best = index.fuzzy.best_of_message(phrase, FUZZY_MIN, looked_up)
                    key = best[0] if best else None
            elif phrase in index.surnames and (((capital or cue is not None) and (cue is not None or owner)
                                                and (cue is not None or zipf(phrase) < NAME_ZIPF))
                                               or RULED_OUT.search(before) or zipf(phrase) < RARE_NAME_ZIPF):
                key = index.surnames[phrase]  # "a Nolan film", "with Hanks", "Spielberg's", "def not nolan"
            if key is None:
                continue
            role = "director" if owner and cue is None and index.roles[key].get("director") else ""
            if cue is not None:
                role = _role_for(cue, index.roles[key], index.all_roles)
            out.append((a, b, index.spelled[key], role, negated(a)))
            for i in range(s, s + n):
                taken[i] = True
    return sorted(out)


def _amount(text: str) -> float:
    t = text.lower()
    return WORD_NUMBERS[t] if t in WORD_NUMBERS else float(t)


def read_numbers(message: str, catalog_units: dict[str, str], quantiles: dict[str, tuple[float, float]],
                 kind_words: frozenset[str]) -> tuple[list[tuple[int, int, FacetFilter]], list[str]]:
    """Numeric limits: ([(start, end, filter)], [units asked for that the catalog lacks])."""
    out: list[tuple[int, int, FacetFilter]] = []
    lacking: list[str] = []
    negated = _negated(message)
    facet_of_unit = {}
    for name, unit in catalog_units.items():
        facet_of_unit.setdefault(unit, name)
    for unit, words in UNIT_WORDS.items():
        between = re.compile(rf"\bbetween\s+{NUM}\s+and\s+{NUM}\s+({words})\b", re.I)
        single = re.compile(rf"\b({LESS}|{MORE})\s+{NUM}\s*({words})\b", re.I)
        found = [(m, "between") for m in between.finditer(message)] + [(m, "single") for m in single.finditer(message)]
        for m, shape in found:
            if unit not in facet_of_unit:
                lacking.append("length" if unit == "min" else unit)
                continue
            name = facet_of_unit[unit]
            scale = 60.0 if unit == "min" and m.group(m.lastindex).lower().startswith("h") else 1.0
            if shape == "between":
                low, high = sorted((_amount(m.group(1)) * scale, _amount(m.group(2)) * scale))
            else:
                value = _amount(m.group(2)) * scale
                if scale == 60.0 and re.match(r"\s+and\s+a\s+half\b", message[m.end():], re.I):
                    value += 30.0  # "an hour and a half"
                less = re.fullmatch(LESS, m.group(1), re.I) is not None
                low, high = (None, value) if less else (value, None)
            out.append((m.start(), m.end(), FacetFilter("num", name, low=low, high=high, negate=negated(m.start()))))
    name = next((n for n in LENGTH_FACETS if n in quantiles), None)
    if any(f.name == name for _, _, f in out):  # "something short, I only have 90 minutes": the number says it
        return out, lacking
    # "not too long", "nothing too short": the other side of the long/short cut
    # ("not too long ago" is a time, not a length)
    negated_size = r"\b(?:not|nothing|no|isn'?t)\s+(?:too|very|that|overly|super)\s+(long|short)\b(?!\s+ago)"
    for m in re.finditer(negated_size, message, re.I):
        if name is None:
            lacking.append("length")
            continue
        lo, hi = quantiles[name]
        out.append((m.start(), m.end(), FacetFilter("num", name, high=hi) if m.group(1).lower() == "long"
                    else FacetFilter("num", name, low=lo)))
    kinds = "|".join(sorted(kind_words | {"one", "read", "watch"}))
    # "a short horror movie": up to two words between, none of them a function word ("as long
    # as the movie is good", "how long is the film" set no length)
    between = r"(?:(?!(?:is|as|the|an?|of|for|to|and|or|this|that|was|be|it)\b)[a-z'-]+\s+){0,2}"
    size = r"(short|shorter|quick|long|longer)"
    length_words = re.compile(rf"(?<!\bas )(?<!\bso )(?<!\bhow )\b{size}\s+{between}(?:{kinds})\b"
                              rf"|\bsomething\s+{size}\b", re.I)  # "something short and funny"
    for m in length_words.finditer(message):
        if any(a <= m.start(m.lastindex) < b for a, b, _ in out):
            continue
        if name is None:
            lacking.append("length")
            continue
        lo, hi = quantiles[name]
        short = m.group(m.lastindex).lower() in ("short", "shorter", "quick")
        # the span is the size word alone: the words between ("short horror movie") are read too
        out.append((m.start(m.lastindex), m.end(m.lastindex),
                    FacetFilter("num", name, high=lo) if short else FacetFilter("num", name, low=hi)))
    return out, lacking


def read_categories(message: str, categories: dict[str, frozenset[str]]) -> list[tuple[int, int, FacetFilter]]:
    """Category limits on the catalog's category facets (values as the catalog spells them)."""
    out: list[tuple[int, int, FacetFilter]] = []
    negated = _negated(message)
    mpaa = next((c for c in ("mpaa", "certification", "rating") if c in categories), None)
    if mpaa:
        have = {v.upper(): v for v in categories[mpaa]}
        pattern = r"\b(?:rated\s+)(" + "|".join(re.escape(v) for v in sorted(have, key=len, reverse=True)) + r")(?![\w-])"
        loose = r"(?<![\w-])(PG-13|PG|NC-17)(?![\w-])"  # distinctive enough without "rated"
        for pat, flags in ((pattern, re.I), (loose, 0)):
            for m in re.finditer(pat, message, flags):
                if any(a <= m.start() < b for a, b, _ in out) or m.group(1).upper() not in have:
                    continue
                out.append((m.start(), m.end(),
                            FacetFilter("cat", mpaa, (have[m.group(1).upper()],), negate=negated(m.start()))))
        m = re.search(r"\bfamily[- ]friendly\b|\bsuitable for (?:kids|children|the whole family)\b", message, re.I)
        if m:
            values = tuple(have[v] for v in ("G", "PG") if v in have)
            if values:
                out.append((m.start(), m.end(), FacetFilter("cat", mpaa, values)))
    for name in [c for c in categories if c in SETTING_FACETS]:  # "set in the 1920s", "set in Paris"
        have = {v.casefold(): v for v in categories[name]}
        values = "|".join(re.escape(v) for v in sorted(have, key=len, reverse=True))
        for m in re.finditer(rf"\b(?:set|takes? place|taking place|happens?)\s+(?:in|during|around)\s+(?:the\s+)?({values})\b",
                             message, re.I):
            out.append((m.start(), m.end(), FacetFilter("cat", name, (have[m.group(1).casefold()],),
                                                        negate=negated(m.start()))))
    language = next((c for c in ("language", "languages") if c in categories), None)
    if language:
        have = {v.casefold(): v for v in categories[language]}
        for m in re.finditer(r"\b(?:in|language:?)\s+([A-Z][a-z]+)\b", message):
            value = have.get(m.group(1).casefold())
            if value:
                out.append((m.start(), m.end(), FacetFilter("cat", language, (value,), negate=negated(m.start()))))
    return out


class FacetReader:
    """Reads people, numbers and categories against one catalog's facets."""

    def __init__(self, catalog: Catalog) -> None:
        self.people = PeopleIndex(catalog)
        values: dict[str, list[float]] = {}
        categories: dict[str, set[str]] = {}
        for item in catalog.items:
            for name, v in item.facets.numbers.items():
                values.setdefault(name, []).append(v)
            for name, vs in item.facets.categories.items():
                categories.setdefault(name, set()).update(vs)
        units = {**DEFAULT_UNITS, **dict(catalog.units)}
        self.units = {name: units.get(name, "") for name in values}
        self.quantiles = {n: (float(np.percentile(v, SHORT_Q)), float(np.percentile(v, LONG_Q))) for n, v in values.items()}
        self.categories = {n: frozenset(v) for n, v in categories.items()}
        self.kind_words = catalog.kind.words()
        # what it cannot filter by: a language too, where the catalog has no language facet
        self.unsupported = list(UNSUPPORTED) + ([] if any(c in self.categories for c in ("language", "languages"))
                                                else [(LANGUAGE_ASK, "language")])

    def read(self, message: str) -> FacetReading:
        filters: list[FacetFilter] = []
        people: list[tuple[str, str]] = []
        spans: list[tuple[int, int]] = []
        found: list[tuple[int, int, FacetFilter]] = []
        for a, b, name, role, negated in read_people(message, self.people):
            filters.append(FacetFilter("people", role, (name,), negate=negated))
            people += [] if negated else [(name, role)]
            spans.append((a, b))
            found.append((a, b, filters[-1]))
        numbers, lacking = read_numbers(message, self.units, self.quantiles, self.kind_words)
        for a, b, f in numbers + read_categories(message, self.categories):
            filters.append(f)
            spans.append((a, b))
            found.append((a, b, f))
        unusable = list(dict.fromkeys(lacking))
        for pattern, what in self.unsupported:
            for m in pattern.finditer(message):
                unusable.append(what)
                spans.append((m.start(), m.end()))
        unusable = list(dict.fromkeys(unusable))
        return FacetReading(tuple(dict.fromkeys(filters)), tuple(dict.fromkeys(people)), tuple(unusable), tuple(spans),
                            tuple(found))
