"""Linking titles mentioned in free text to catalog items, and references to the last list.

Titles: case-, punctuation- and typo-tolerant ("the shawshank redemtion" -> "Shawshank
Redemption, The"), year optional ("Heat 1995"). To avoid reading ordinary words as titles
("a movie for kids" is not "Kids (1995)"), a title links when the person capitalised it
(not just at the start of a sentence), quoted it, or announced it with a cue word ("loved",
"like", "saw", ...) just before it; a one-word title needs capitals or quotes, or must
follow another title in a list ("the dark knight and inception"). A year, when given,
must be the item's ("It (2017)" is not the catalog's It (1990)), and a capitalised match
that is only part of a longer capitalised name ("Paul" in "Paul Blart: Mall Cop") is not
taken unless quoted. A series ("all the Harry Potter films", "I loved Star Wars") links
every film whose title continues the words with a sequel marker or a colon. Knows
nothing of sessions or scoring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from rapidfuzz import fuzz, process

from bot.conversation.budget import spend
from retrieval.records import Catalog
from retrieval.titles import WORDS, fold, normalise_title, title_form

YEAR = re.compile(r"^(19|20)\d\d$")
# Words that never start or end a fuzzy title match ("Redemtion and" is not a title).
EDGE_STOP = frozenset("and or but was were is are a an of with like loved liked love hated "
                      "saw seen watch watched also too please than as to for in on".split())
FUZZY_MIN = 90  # rapidfuzz ratio (0-100): one or two typos in a title of 10+ letters
# Typo lookups per message (about 0.1 ms each): a chat message makes a few dozen; a 2,000-
# character run of capitalised words would make thousands. Past this, only exact titles link.
MAX_FUZZY_LOOKUPS = 300
# Words that announce a title written in lower case ("i loved toy story", "more like the
# matrix"); without one, lower-case words are read as words ("a date night" is not "Date Night").
CUE = frozenset("loved love liked like enjoyed enjoy adored hated hate disliked dislike saw seen "
                "watched watch rewatched than as to including".split())  # not "about": "about a road trip" is a topic
SERIES_WORDS = frozenset("series franchise trilogy saga sequels books novels films movies".split())
# "Eclipse (Twilight, #3)", "Bree Tanner (Twilight, #3.5)": the series a bookshop title names.
SERIES_NOTE = re.compile(r"\(([^()#]+?),?\s*#\s*\d+(?:\.\d+)?\)")
MAX_SERIES = 12  # films taken from one series mention
CUE_PARTICLES = frozenset("than as to including".split())  # cues of a written-out title only
PHRASE_END = frozenset("and or but too so a lot very much the most again".split())  # words after a title
EXACT_WORDS = 3  # a lower-case exact title this long links without a cue ("back to the future")
MIN_CUED_WORD = 4  # letters of a lower-case one-word title after a cue ("loved memento")
# Words that are words even right after a cue ("i loved it", "i like action", "saw them").
COMMON_WORDS = frozenset("""it this that them these those one ones all both some any everything something
anything nothing more most less movies movie films film books book shows show stuff things thing series
action comedy comedies drama dramas horror thriller thrillers romance westerns western animation cartoons
documentaries documentary musicals mystery mysteries fantasy adventure crime war kids family funny
scary dark sad happy long short old new good great best bad better worse very really""".split())

# Words after "X and ..." that go on the sentence rather than name another title.
LIST_STOP = EDGE_STOP | frozenset("more other others similar stuff something anything everything things "
                                  "so just really also i you it".split())
PLAIN = COMMON_WORDS | LIST_STOP  # words that never make a lower-case title on their own
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
            "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}


# "Twelve Monkeys (a.k.a. 12 Monkeys)": the other title people type
AKA = re.compile(r"\(a\.?k\.?a\.?\s+([^()]+)\)", re.IGNORECASE)
SEQUEL_START = re.compile(r"^(?:\d{1,2}|ii|iii|iv|v|vi|vii|viii|ix|x|part|chapter|episode|vol|volume)$")


def series_prefixes(title: str) -> list[str]:
    """The series names a title belongs to: its word prefixes that a sequel marker or a
    colon follows. 'Harry Potter and the Goblet of Fire' -> 'harry potter'; 'Rocky III' ->
    'rocky'; 'Lord of the Rings: The Two Towers, The' -> 'the lord of the rings' and
    'lord of the rings'; 'Rocky Horror Picture Show' -> none (no sequel marker)."""
    tokens = re.findall(r"[a-z0-9]+|:", title_form(title))
    words = [w for w in tokens if w != ":"]
    out: list[str] = []
    seen = 0
    for i, tok in enumerate(tokens[:-1]):
        if tok == ":":
            continue
        seen += 1
        if seen == len(words):
            break
        following = tokens[i + 1]
        if following == ":" or SEQUEL_START.match(following) or tokens[i + 1:i + 3] == ["and", "the"]:
            prefix = " ".join(words[:seen])
            out.append(prefix)
            if prefix.startswith("the "):
                out.append(prefix[4:])
    return out


def series_of(title: str) -> list[str]:
    """Series names of a title: its sequel prefixes (series_prefixes) and the series a
    "(Name, #n)" note names ("New Moon (Twilight, #2)" -> "twilight")."""
    out = series_prefixes(title)
    for m in SERIES_NOTE.finditer(fold(title)):
        name = normalise_title(m.group(1))
        out += [name] + ([name[4:]] if name.startswith("the ") else [])
    return list(dict.fromkeys(n for n in out if n))


ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 "  # the characters of normalised titles and names
Q = 3  # q-gram length of the fuzzy prefilter


class FuzzyKeys:
    """`process.extractOne(phrase, keys, scorer=fuzz.ratio, score_cutoff=cutoff)` without
    scoring every key: the same answer from the few keys that can reach the cutoff.

    A ratio of at least `cutoff` bounds the Indel distance d <= (1 - cutoff/100)(|a|+|b|),
    hence the keys' lengths and the edit distance k <= d. Any k edits leave at least one
    of k+1 non-overlapping 3-grams of the phrase intact in the key (pigeonhole), so the
    keys holding one of k+1 chosen 3-grams (the rarest such set, by a small dynamic
    programme) hold every answer. Those keys, in their original order, go to rapidfuzz,
    so ties resolve as over the full list. Keys are strings over ALPHABET (normalised
    titles, folded names); a phrase outside it, or too short to cut into k+1 3-grams, is
    scored against every key.
    """

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self._choices = np.array(keys, dtype=object)  # gathers the candidates in one call
        self.lengths = np.array([len(k) for k in keys], np.int64)
        code = np.full(128, -1, np.int64)
        for i, c in enumerate(ALPHABET):
            code[ord(c)] = i
        self._code = code
        base = len(ALPHABET)
        joined = np.frombuffer("".join(keys).encode("ascii", "replace"), np.uint8)
        chars = code[joined]
        starts = np.concatenate([[0], np.cumsum(self.lengths)])[:-1]
        owner = np.repeat(np.arange(len(keys), dtype=np.int64), self.lengths)
        pos = np.arange(len(joined)) - np.repeat(starts, self.lengths)  # position inside its key
        ok = (pos + Q <= np.repeat(self.lengths, self.lengths))
        grams = np.zeros(len(joined), np.int64)
        for j in range(Q):
            shifted = np.concatenate([chars[j:], np.full(min(j, len(chars)), -1, np.int64)])
            ok &= shifted >= 0
            grams = grams * base + np.maximum(shifted, 0)
        grams, owner = grams[ok], owner[ok]
        order = np.lexsort((owner, grams))
        grams, owner = grams[order], owner[order]
        self._n_codes = base ** Q
        self._indptr = np.searchsorted(grams, np.arange(self._n_codes + 1))
        self._owner = owner.astype(np.int32)  # key index per posting, grouped by 3-gram, ascending within one

    def _grams(self, phrase: str) -> np.ndarray | None:
        raw = phrase.encode("ascii", "replace")
        if len(raw) != len(phrase):
            return None
        chars = self._code[np.frombuffer(raw, np.uint8)]
        if (chars < 0).any():
            return None
        base = len(ALPHABET)
        out = np.zeros(len(chars) - Q + 1, np.int64)
        for j in range(Q):
            out = out * base + chars[j:len(chars) - Q + 1 + j]
        return out

    def candidates(self, phrase: str, cutoff: float) -> np.ndarray | None:
        """Sorted indexes of the keys that may score >= cutoff; None = all of them."""
        a = len(phrase)
        slack = 1.0 - cutoff / 100.0
        longest = int(np.floor(a * (1 + slack) / (1 - slack) + 1e-6))
        shortest = int(np.ceil(a * (1 - slack) / (1 + slack) - 1e-6))
        k = int(np.floor(slack * (a + longest) + 1e-6))  # most edits an answer can be away
        grams = self._grams(phrase) if a >= Q * (k + 1) else None
        if grams is None:
            return None
        sizes = (self._indptr[grams + 1] - self._indptr[grams]).tolist()
        # choose k+1 grams at positions >= Q apart with the fewest postings: best[i][j] =
        # least total using j grams among positions >= i (plain lists: numpy scalars in
        # this small loop cost ten times more)
        m = len(sizes)
        inf = float("inf")
        best = [[0] + [inf] * (k + 1) for _ in range(m + Q + 1)]
        for i in range(m - 1, -1, -1):
            row, skip, after = best[i], best[i + 1], best[i + Q]
            for j in range(1, k + 2):
                row[j] = min(skip[j], sizes[i] + after[j - 1])
        chosen, i, j = [], 0, k + 1
        while j > 0:
            if best[i][j] == best[i + 1][j]:
                i += 1
            else:
                chosen.append(int(grams[i]))
                i, j = i + Q, j - 1
        keys = np.concatenate([self._owner[self._indptr[g]:self._indptr[g + 1]] for g in chosen])
        length = self.lengths[keys]
        return np.unique(keys[(length >= shortest) & (length <= longest)])

    def best_of_message(self, phrase: str, cutoff: float, looked_up: dict):
        """`best`, remembered in `looked_up` (one dict per message); None for new phrases once
        it holds MAX_FUZZY_LOOKUPS, so no message costs more than that many lookups."""
        if phrase not in looked_up and len(looked_up) < MAX_FUZZY_LOOKUPS:
            looked_up[phrase] = self.best(phrase, cutoff)
        return looked_up.get(phrase)

    def best(self, phrase: str, cutoff: float):
        """What `process.extractOne(phrase, self.keys, scorer=fuzz.ratio,
        score_cutoff=cutoff)` returns: (key, score, index) or None."""
        found = self.candidates(phrase, cutoff)
        if found is None:
            return process.extractOne(phrase, self.keys, scorer=fuzz.ratio, score_cutoff=cutoff)
        if len(found) == 0:
            return None
        hit = process.extractOne(phrase, self._choices[found].tolist(), scorer=fuzz.ratio, score_cutoff=cutoff)
        return None if hit is None else (hit[0], hit[1], int(found[hit[2]]))


def phrase_at(tokens: list[str], start: int, n: int) -> str:
    """The words of tokens[start:start + n] as a title key is spelled (empty tokens left out)."""
    return " ".join(t for t in tokens[start:start + n] if t)


@dataclass(frozen=True)
class Mention:
    item_id: str
    span: tuple[int, int]  # word positions [start, end) in the message
    surface: str  # the words as written


class TitleLinker:
    def __init__(self, catalog: Catalog, prior: np.ndarray | None = None, weak_share: float = 0.0) -> None:
        """`prior` (n_items,) breaks ties between equal titles (e.g. rating counts). A weak
        match (lower case, and fuzzy or one word after a cue: "i loved oceans", "i love
        superhero movies") links only an item in the top `weak_share` of the prior (0: any)."""
        self.catalog = catalog
        self.prior = prior if prior is not None else np.zeros(len(catalog))
        self.weak_min = (float(np.quantile(self.prior, 1 - weak_share)) if weak_share and self.prior.max() > 0
                         else -np.inf)
        self.by_title: dict[str, list[int]] = {}
        self.stems: list[str] = []  # normalise_title of every row (bot/conversation/duplicates.py reads them too)
        for row, item in enumerate(catalog.items):
            key = normalise_title(item.title)
            self.stems.append(key)
            if key:
                self.by_title.setdefault(key, []).append(row)
                if key.startswith("the "):  # "Matrix" finds "The Matrix" too
                    self.by_title.setdefault(key[4:], []).append(row)
            for m in AKA.finditer(fold(item.title)):
                alias = normalise_title(m.group(1))
                if alias and alias != key:
                    self.by_title.setdefault(alias, []).append(row)
        # "homeward bound" for "Homeward Bound: The Incredible Journey": the words before a
        # colon, when two or more (the lower-case reader in bot/conversation/reading.py)
        self.main_titles: dict[str, list[int]] = {}
        for row, item in enumerate(catalog.items):
            form = title_form(item.title)
            if ":" in form:
                main = " ".join(WORDS.findall(form.split(":")[0]))
                if len(main.split()) >= 2:
                    self.main_titles.setdefault(main, []).append(row)
        self.keys = list(self.by_title)
        self.fuzzy = FuzzyKeys(self.keys)
        self.max_words = max(len(k.split()) for k in self.keys)
        # first word -> the word counts of the titles it starts: most n-grams of a message
        # are no title, and this says so before their phrase is even joined
        lengths: dict[str, set[int]] = {}
        for key in self.keys:
            words = key.split()
            lengths.setdefault(words[0] if words else "", set()).add(len(words))
        self.title_lengths = {first: frozenset(ns) for first, ns in lengths.items()}
        # series names: "harry potter" -> the Harry Potter films (see series_prefixes)
        self.by_prefix: dict[str, list[int]] = {}
        for row, item in enumerate(catalog.items):
            for prefix in series_of(item.title):
                self.by_prefix.setdefault(prefix, []).append(row)
        # the catalog's own plural ("books") also announces a series: "all the Harry Potter books"
        self.series_words = SERIES_WORDS | catalog.kind.words()
        self.kind_words = catalog.kind.words()

    def _pick(self, rows: list[int], year: int | None) -> int | None:
        """The most popular item with this title; with a year, only one of that year (None
        when there is none: a remake or namesake the catalog lacks)."""
        if year is not None:
            rows = [r for r in rows if self.catalog.items[r].year == year]
            if not rows:
                return None
        return max(rows, key=lambda r: self.prior[r])

    def find(self, message: str) -> list[Mention]:
        """Non-overlapping title mentions, longest first, in message order."""
        raw = message.split()
        tokens = [" ".join(WORDS.findall(fold(w))) for w in raw]
        quoted = {i for i, w in enumerate(raw) if w[:1] in "\"'“‘" or w[-1:] in "\"'”’"}
        # a title does not run across a comma, full stop etc. ("Toy Story, I want ..."); a
        # colon it does ("The Lord of the Rings: The Two Towers")
        breaks = [bool(re.search(r"[,.;!?]$", w)) for w in raw]
        # running counts, so that "any break / quote / capital in words s..e" costs one subtraction
        n_breaks = list(accumulate(breaks, initial=0))
        n_quoted = list(accumulate((i in quoted for i in range(len(raw))), initial=0))
        n_capital = list(accumulate((w[:1].isupper() for w in raw), initial=0))
        ends_sentence = [bool(re.search(r"[.!?]$", w)) for w in raw]

        def capital_run(i: int) -> bool:
            """raw[i] is a capitalised word joined to its neighbour (no break between)."""
            return 0 <= i < len(raw) and raw[i][:1].isupper() and not (i > 0 and breaks[i - 1])
        taken = [False] * len(raw)
        found: list[Mention] = []
        looked_up: dict[str, tuple | None] = {}  # phrase -> its fuzzy match, once per message
        n_words = list(accumulate((len(t.split()) for t in tokens), initial=0))
        first_word = [t.split(" ", 1)[0] for t in tokens]
        for fuzzy, n in [(f, n) for f in (False, True) for n in range(min(self.max_words, len(raw)), 0, -1)]:
            spend()
            for s in range(0, len(raw) - n + 1):
                if not tokens[s] or not tokens[s + n - 1] or n_breaks[s + n - 1] > n_breaks[s]:
                    continue
                # what can be a title at all, first (cheap): the filters below only refuse
                phrase = ""
                if not fuzzy:
                    if n_words[s + n] - n_words[s] not in self.title_lengths.get(first_word[s], ()):
                        continue  # no title starts with this word and has this many
                    phrase = phrase_at(tokens, s, n)
                    if phrase not in self.by_title:
                        continue
                if any(taken[s:s + n]):
                    continue
                sentence_start = s == 0 or ends_sentence[s - 1]
                said_quoted = n_quoted[s + n] > n_quoted[s]
                marked = said_quoted or n_capital[s + n] > n_capital[s + int(sentence_start)]
                cued = any(tokens[i] in CUE for i in range(max(0, s - 3), s))
                # "i loved the dark knight and inception": the next item of a list of titles
                listed = ((s >= 2 and tokens[s - 1] in ("and", "or", "&") and taken[s - 2])
                          or (s >= 1 and raw[s - 1].endswith(",") and taken[s - 1])
                          or (s + n + 1 < len(raw) and tokens[s + n] in ("and", "or") and taken[s + n + 1]))
                if fuzzy:
                    if not (marked or (listed and tokens[s] not in LIST_STOP) or cued):
                        continue  # a typo is looked up only for words marked or cued as a title (below)
                    phrase = phrase_at(tokens, s, n)
                    if not (n >= 2 and len(phrase) >= 10 and tokens[s + n - 1] not in self.kind_words
                            and tokens[s] not in EDGE_STOP - {"a", "an"} and tokens[s + n - 1] not in EDGE_STOP):
                        continue
                # "i loved memento and ...": a one-word title right after a cue word, when the
                # word is no common word ("i loved it" is not It (1990))
                # ... and ends its phrase ("i liked aliens, ...", "loved memento and ..."), so "i like
                # murder mysteries" and "i like to watch" stay words
                cued_word = (n == 1 and s >= 1 and tokens[s - 1] in CUE - CUE_PARTICLES
                             and len(tokens[s]) >= MIN_CUED_WORD and tokens[s] not in COMMON_WORDS
                             and (s + 1 == len(raw) or breaks[s] or tokens[s + 1] in PHRASE_END))
                # "back to the future": an exact lower-case title of EXACT_WORDS+ words needs no cue
                exact_long = not fuzzy and n >= EXACT_WORDS and phrase in self.by_title
                if (not marked and not (listed and tokens[s] not in LIST_STOP) and (n == 1 or not cued)
                        and not cued_word and not exact_long):
                    continue  # lower-case words are words, not a title
                if not marked and all(tokens[i] in PLAIN for i in range(s, s + n)):
                    continue  # "more than the others" is not The Others
                # Part of a longer capitalised name the catalog lacks: "Paul" in "Paul Blart:
                # Mall Cop", "Life" in "A Beautiful Life" (quoted titles are taken as said).
                inside = ((s > 0 and not sentence_start and not breaks[s - 1] and capital_run(s - 1)
                           and tokens[s - 1] not in CUE)
                          or (s + n < len(raw) and not breaks[s + n - 1] and capital_run(s + n)))
                if inside and not said_quoted:
                    continue
                rows = None if fuzzy else self.by_title.get(phrase)
                if fuzzy:
                    # ("scary movies" is no typo of Scary Movie: a kind word never ends a fuzzy match)
                    best = self.fuzzy.best_of_message(phrase, FUZZY_MIN, looked_up)
                    rows = self.by_title[best[0]] if best else None
                if rows is None:
                    continue
                if (s + n < len(raw) and not breaks[s + n - 1] and tokens[s + n] in self.series_words
                        and (phrase in self.by_prefix or f"{phrase} {tokens[s + n]}" in self.by_prefix)):
                    continue  # "the Rocky movies", "the Twilight saga": the series (below), not one film
                end = s + n
                year = None
                if end < len(raw) and YEAR.match(tokens[end] or ""):
                    year, end = int(tokens[end]), end + 1
                row = self._pick(rows, year)
                if row is None:
                    continue  # "It (2017)": that title, but another film than the catalog's
                if (s + n < len(raw) and not breaks[s + n - 1] and re.fullmatch(r"\d{1,4}", tokens[s + n] or "")
                        and int(tokens[s + n]) != self.catalog.items[row].year):
                    continue  # "Blade Runner 2049", "Super Troopers 2": a longer title the catalog lacks
                if (not marked and self.weak_min > -np.inf
                        and (self.prior[row] <= 0 or self.prior[row] < self.weak_min)):
                    continue  # a weak lower-case match of an obscure item: "oceans" is not Oceans (2009)
                found.append(Mention(self.catalog.items[row].item_id, (s, end), " ".join(raw[s:end])))
                for i in range(s, end):
                    taken[i] = True
        found += self._series(raw, tokens, taken, breaks)
        return sorted(found, key=lambda m: m.span)

    def _series(self, raw: list[str], tokens: list[str], taken: list[bool], breaks: list[bool]) -> list[Mention]:
        """'all the Harry Potter films', 'I loved Star Wars': the films whose titles start
        with the words (up to MAX_SERIES, most popular first), one Mention each. The words
        must be followed by a series word or follow a cue word, so "set in New York" stays
        a place; an exact title ("Toy Story") is the film itself unless a series word follows."""
        found: list[Mention] = []
        for n in range(min(self.max_words, len(raw)), 0, -1):
            spend()
            for s in range(0, len(raw) - n + 1):
                if any(taken[s:s + n]) or not tokens[s] or not tokens[s + n - 1] or any(breaks[s:s + n - 1]):
                    continue
                series_word = s + n < len(raw) and not breaks[s + n - 1] and tokens[s + n] in self.series_words
                cued = n >= 2 and any(tokens[i] in CUE for i in range(max(0, s - 3), s))
                if not (series_word or cued):
                    continue
                phrase = phrase_at(tokens, s, n)
                if not series_word and phrase in self.by_title:
                    continue
                if not any(raw[i][:1].isupper() or raw[i][:1] in "\"'“‘" for i in range(s, s + n)):
                    continue  # lower-case words are words ("i loved the space movies")
                rows = list(dict.fromkeys(self.by_title.get(phrase, []) + self.by_prefix.get(phrase, [])))
                if len(rows) < 2:
                    continue
                rows = sorted(rows, key=lambda r: -self.prior[r])[:MAX_SERIES]
                end = s + n + int(series_word)
                found += [Mention(self.catalog.items[r].item_id, (s, end), " ".join(raw[s:end])) for r in rows]
                for i in range(s, end):
                    taken[i] = True
        return found


REF_HASH = re.compile(r"(?:#|\bnumber |\bno\. ?)(\d{1,2})\b", re.IGNORECASE)
REF_ORDINAL = re.compile(r"\bthe (first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)"
                         r"(?: one)?\b", re.IGNORECASE)
REF_LIST = re.compile(r"\b(\d{1,2}(?:\s*(?:,|and|&)\s*\d{1,2})+)\s+(?:were|was|are|look|looks|sound)\b",
                      re.IGNORECASE)


def list_references(message: str, list_length: int) -> list[tuple[int, int]]:
    """(1-based position in the last list, character offset) for each reference."""
    refs: list[tuple[int, int]] = []
    for m in REF_HASH.finditer(message):
        refs.append((int(m.group(1)), m.start()))
    for m in REF_ORDINAL.finditer(message):
        word = m.group(1).lower()
        refs.append((list_length if word == "last" else ORDINALS[word], m.start()))
    for m in REF_LIST.finditer(message):
        refs += [(int(n), m.start()) for n in re.findall(r"\d{1,2}", m.group(1))]
    return sorted({r for r in refs if 1 <= r[0] <= list_length}, key=lambda r: (r[1], r[0]))
