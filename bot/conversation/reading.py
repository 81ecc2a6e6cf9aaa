"""The one reading stage: `Reader.read(message, session) -> Reading`.

A message is read once, here, into a typed record: its act (request, more, like, dislike,
seen, correction, undo, accept, goodbye, question, small talk), the spans it names (titles,
people, genres, years, limits, audiences, list references), each with its polarity, and
what the state update and the ranking take from them. Every part reads the message through
one negation and clause model (bot/conversation/negation.py). The parts:

- titles (bot/conversation/linking.py), plus the titles already in the conversation (the
  lists shown, the items named), which link in any case and by their first word ("wait i
  didn't say i liked requiem");
- people, numeric limits and categories (bot/conversation/facetread.py);
- genres, years, the words left for the encoder (bot/conversation/understand.py);
- the act (bot/conversation/intents.py: small talk, questions, other languages; here:
  corrections, taking back, accepting a pick, complaints about the last list).

Then `Bot.respond` updates the state, decides, ranks, writes reasons and replies; none of
those reads the message again. Knows nothing of HTTP or storage.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from bot.conversation.budget import ReadingOverrun, reading_budget
from bot.conversation.commonness import zipf
from bot.conversation.facetread import FacetReader, FacetReading
from bot.conversation.intents import BYE, COURTESY, foreign_language, is_question, item_question, small_talk
from bot.conversation.linking import (COMMON_WORDS, CUE, MAX_SERIES, Mention, TitleLinker, list_references,
                                        phrase_at)
from bot.conversation.negation import POSITIVE, clause_bounds, negated_scopes, verdict
from bot.conversation.records import Reading, Span
from bot.conversation.state import Session
from bot.conversation.topics import ABOUT, TopicReader, bases, singulars as singular_forms
from bot.conversation.understand import FILLER, has_content, is_paging, read_turn, resolve_relative
from bot.conversation.vocabulary import NARROW, GenreVocabulary, canonical
from retrieval.facets import TOPIC_FACET
from retrieval.records import Catalog, FacetFilter
from retrieval.titles import WORDS, fold

MAX_MESSAGE_CHARS = 2000  # longer messages are cut: descriptions, not documents

PRONOUNS = frozenset({"it", "that", "this", "that one", "this one", "the first one", "them"})  # "who's in it?"
# "I didn't say I liked X", "I never said that", "forget the Nolan thing", "scratch that"
UNDO = re.compile(r"\b(?:i\s+)?(?:didn'?t|did not|never)\s+(?:say|said|mean|meant)\b|\bforget (?:about )?(?:that|the|what i said)\b"
                  r"|\bscratch that\b|\bundo\b|\btake (?:that|it) back\b", re.IGNORECASE)
# "no i meant Ocean's Eleven", "i mean the other one", "sorry, i said comedy"
CORRECTION = re.compile(r"^\W*(?:(?:no+|nope|nah|sorry|oops|wait|actually)\W+)*(?:i\s+)?(?:meant|mean|said)\b",
                        re.IGNORECASE)
# "X it is", "I'll watch X", "going with X", "X sounds perfect": settling on a pick
ACCEPT_AFTER = re.compile(r"(?:\b(?:it is|it'?s decided|is the one|sounds (?:perfect|great|good|like a plan)|"
                          r"it'?ll be|for tonight|wins)|'s the one)\b", re.IGNORECASE)  # "that's the one"
ACCEPT_BEFORE = re.compile(r"\b(?:i'?ll|i will|i'?m going to|gonna|going to|let'?s|we'?ll|i (?:might|may|should|will have to|"
                           r"have to|need to))\s+(?:definitely\s+|probably\s+|have to\s+|be sure to\s+)?(?:watch|go with|take|"
                           r"try|pick|check|see|give|look (?:into|up|for)|add|rent|stream)\b|\b(?:going with|i pick|i choose|"
                           r"i'?ll have)\b", re.IGNORECASE)
ACCEPT_PLAIN = re.compile(r"^\W*(?:perfect|great|awesome|sounds good|that works|that'?s it|done|deal)\W*"
                          r"(?:thanks?|thank you|thx|ty|cheers)", re.IGNORECASE)
# Words that only agree: "ok that one then", "sounds good, that one", "yes that one please"
ASSENT = frozenset("""ok okay k yes yeah yep yup yea ya sure alright then please pls plz sounds good great perfect cool
awesome thanks thank you thx ty cheers""".split())
# "those are kids movies", "they're all too old", "these look boring": about the last list
COMPLAINT = re.compile(r"\b(?:those|these|they|them|all of (?:them|those|these)|that list|this list)\s*(?:are|were|'re|re|"
                       r"look|looks|seem|seems|all look|are all|were all)\s+(?:all\s+|just\s+|so\s+|too\s+|way too\s+)?"
                       r"([^.,;!?]*)", re.IGNORECASE)
# "the george clooney one", "the 2001 version": words that pick one film among namesakes
# (the words between: at most 60 characters, so that a run of "the the the ..." is linear)
WHICH_ONE = re.compile(r"\bthe\s+[\w .'-]{1,60}?\s+(?:one|version|film|movie)\b", re.IGNORECASE)
# A reference to one film just spoken of: "it", "that one", "that movie"
REFERENCE = re.compile(r"\b(?:(?:that|this) (?:one|movie|film|flick)|it|(?:that|this)(?=\s*(?:is|was|'s|sounds|looks|"
                       r"seems|too|[.,!?]|$)))\b", re.IGNORECASE)
WANT = re.compile(r"\b(?:want(?:ed)? to (?:see|watch)|looks? (?:good|great|fun|interesting)|sounds? (?:good|great|fun|"
                  r"interesting)|heard (?:good|great) things)\b", re.IGNORECASE)
# "is it scary?", "was that one any good?": a question about the film spoken of
ABOUT_IT = re.compile(r"^\W*(?:\w+\W+)?(?:is|was|does|did|has|are|were)\s+(?:it|that|this|that one|this one|they|those|"
                      r"the (?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last) one|#\d+|number \d+)\b.*\?",
                      re.IGNORECASE)
# The start of a clause that asks about the title after it: "is X ...?", "who stars in X?",
# "what is X about?" ("have you seen X?" from a seeker most often means they liked it)
ASKS_ABOUT = re.compile(r"^\W*(?:\w+\W+)?(?:is|was|does|did|who(?:'s| is| was)?(?: \w+)?(?: in| on)?|what(?:'s| is)|how (?:long|good) is)\b",
                        re.IGNORECASE)
# the items just spoken of, all of them: "those", "both of them", "your suggestions"
GROUP = re.compile(r"\b(?:those|these|them|both|all of (?:them|those|these)|all three|your (?:suggestions|picks|ideas))\b",
                   re.IGNORECASE)
# "thanks for the help", "thank you for the suggestions": the list did its job
THANKS_FOR = re.compile(r"\bthanks?(?: you)?(?: so much| a lot| again)? for (?:the |your |all the |all your |these |those )?"
                        r"(?:help|suggestions?|recommendations?|recs|ideas|advice|picks|list)\b", re.IGNORECASE)
FOR_WHOM = re.compile(r"\b(?:for|with|about)\s+$", re.IGNORECASE)  # "for grown ups", not "i loved grown ups"
GROWN_UP = re.compile(r"\b(?:grown[- ]?ups?|adults?|mature)\b", re.IGNORECASE)
KIDS = re.compile(r"\b(?:for|with)\s+(?:my|our|the|a)?\s*(?:\w+\s+)?(?:kids?|children|child|son|daughter|toddlers?|"
                  r"little ones|family)\b", re.IGNORECASE)
WEAK_SHARE = 0.25  # a weak lower-case title match ("i loved oceans") links an item in the top quarter by the prior
POPULAR_SHARE = 0.1  # a title typed in lower case without a cue links when its item is in the top tenth by the prior
RARE_ZIPF = 3.0  # ... and, for one word, when the word is rarer than this in English (wordfreq): "goonies", not "heat"
CUED_ZIPF = 4.0  # ... after a cue word ("watched inception" 3.7; not "loved heat" 4.9)
MIN_WORD = 5  # letters of such a one-word title
LIST_RARE_ZIPF = 3.5  # ... rarer than this in English: the list is context enough ("nemo" 3.2, not "toy" 4.3)
EXACT_LIST_ZIPF = 5.0  # a one-word title of the conversation, said whole, unless an everyday word ("up" 6.4)
MIN_LIST_WORD = 4  # letters of a rare title word that names an item of the list just shown ("nemo")
TOPIC_OVER_TITLE = 20  # a ruled-out word that this many items are about is the topic, not a title ("no aliens")
FEW_BOTH = 10  # fewer items carry both the earlier request's genres/topics and a new turn's: a new request
ARTICLES = frozenset({"a", "an", "the", "some"})
MIN_PREFIX = 5  # letters of a first word that names a title already in the conversation ("requiem")


def carriers(catalog: Catalog) -> dict[tuple[str, str], np.ndarray]:
    """("g", lower-case genre) and ("t", lower-case topic) -> sorted int32 rows of the items
    carrying it."""
    rows: dict[tuple[str, str], list[int]] = {}
    for r, it in enumerate(catalog.items):
        for g in it.genres:
            rows.setdefault(("g", g.lower()), []).append(r)
        for t in it.facets.categories.get(TOPIC_FACET, ()):
            rows.setdefault(("t", t.lower()), []).append(r)
    return {k: np.unique(np.array(v, np.int32)) for k, v in rows.items()}


def top_share(prior: np.ndarray, share: float) -> float:
    """The prior an item needs to be in the top `share` of the catalog (inf: no prior)."""
    return float(np.quantile(prior, 1 - share)) if len(prior) and prior.max() > 0 else float("inf")


def asks(reading: Reading) -> bool:
    """Whether a reading describes what to look for (words, genres, limits, years, audience)."""
    return bool(reading.text or narrows(reading) or reading.banned_words or reading.audience)


# Words that ask for picks whatever else is said ("good" and "more" alone do not: "im good u?")
PICK_WORDS = frozenset("""recommend recommendation recommendations suggest suggestion suggestions something anything
similar want looking find show give pick picks options surprise""".split())
CHAT_ZIPF = 4.0  # words at least this common in English (wordfreq) are everyday chat: "yo whats up", "haha fair"


def chit_chat(message: str, reading: Reading, kind_words: frozenset[str]) -> bool:
    """A greeting or chit-chat: nothing named (no title, genre, person, limit, year) and
    every word an everyday one, none asking for picks ("hiii 👋", "im good u?", "I havent
    seen that one either lol"). "zombies. lots of zombies" is no chit-chat: 'zombies' is
    rarer than CHAT_ZIPF."""
    if reading.liked_ids or reading.disliked_ids or reading.seen_ids or narrows(reading):
        return False
    if small_talk(message) == "greeting" and not reading.text.strip(" ,.!?"):
        return True
    words = re.findall(r"[a-z']+", message.lower())
    if not words or set(words) & PICK_WORDS or any(w in kind_words for w in words):
        return False
    return small_talk(message) == "greeting" or all(w in FILLER or zipf(w) >= CHAT_ZIPF for w in words)


def spans_of(spans: list[Span] | tuple[Span, ...], kind: str) -> list[Span]:
    return [s for s in spans if s.kind == kind]


def narrows(reading: Reading) -> bool:
    """Whether a reading limits the list (genres, topics, people, numbers, categories, years)."""
    return bool(reading.wanted_genres or reading.banned_genres or reading.topics or reading.facet_filters
                or reading.years is not None or reading.relative_years)


def last_named(session: Session) -> tuple[str, ...]:
    """The items of the latest turn, either side's, that named any: what "it" may mean."""
    return next((t.item_ids for t in reversed(session.transcript) if t.item_ids), ())


def settles_on(message: str, start: int, end: int) -> bool:
    """Whether the message settles on what message[start:end] names (a title, "that one"):
    "X it is", "that's the one", "I'll go with X"."""
    return bool(ACCEPT_AFTER.match(message[end:end + 30].lstrip(" ,"))
                or ACCEPT_BEFORE.search(message[max(0, start - 30):start]))


def settled_reference(message: str) -> re.Match | None:
    """The "that one" / "it" a message settles on, as a title would be ("that one it is,
    thanks", "i'll go with that one", "that's the one"), or said with nothing but assent
    around it ("ok that one then", "sounds good, that one"); None for "not that one", "is
    it scary?", "that's it, thanks"."""
    if is_question(message):
        return None
    plain = ACCEPT_PLAIN.match(message)  # "that's it, thanks": done, no pick
    scopes = negated_scopes(message)
    for m in REFERENCE.finditer(message):
        if (plain and m.start() < plain.end()) or verdict(message, m.start(), m.end(), scopes) == "-":
            continue
        rest = re.findall(r"[a-z']+", (message[:m.start()] + " " + message[m.end():]).lower())
        if settles_on(message, m.start(), m.end()) or set(rest) <= ASSENT:
            return m
    return None


def referred(session: Session) -> str | None:
    """The one title "that one" / "it" points back at: that of the latest turn naming
    exactly one (either side's), else, when the latest named several (a list), the one
    title the person's previous turn corrected to or asked about ("no, I meant Million
    Dollar Baby" -> list -> "that one it is"); None when that turn named none or several,
    or only liked one: "i loved rocky" -> list -> "i'll watch it" is about the list, not
    the film they have seen."""
    last = last_named(session)
    if len(last) == 1:
        return last[0]
    previous = session.readings[-1] if session.readings else None
    named = previous.mentioned_ids() if previous is not None else ()
    picked = previous.asked_ids + (previous.liked_ids if previous.act == "correction" else ()) if previous else ()
    if len(named) == 1 and named[0] in picked:
        return named[0]
    return None


def asking(reading: Reading, item_id: str, spans: tuple[Span, ...], language: str) -> Reading:
    """`reading` as a question about one item: it asks nothing of the list ("is it kid
    friendly?" wants no kids' films) and likes nothing."""
    return replace(reading, act="question", asked_ids=(item_id,), liked_ids=(), seen_ids=(), disliked_ids=(),
                   text="", wanted_genres=(), banned_genres=(), cues={}, facet_filters=(), people=(), years=None,
                   relative_years="", audience="", banned_words=(), spans=spans, language=language, topics=())


class Reader:
    """Reads messages against one catalog: its titles, people, facets, genres and years."""

    def __init__(self, catalog: Catalog, prior: np.ndarray | None = None, read_facets: bool = True) -> None:
        """`prior` (n_items,) ranks equal titles and makes a lower-case title confident
        (e.g. rating counts); `read_facets` off leaves people, limits and categories unread
        (the replay's ablation row)."""
        self.catalog = catalog
        self.kind = catalog.kind
        self.genre_names = {g.lower(): g for it in catalog.items for g in it.genres}
        self.vocabulary = GenreVocabulary.of(frozenset(self.genre_names), self.kind)
        self.linker = TitleLinker(catalog, prior, WEAK_SHARE)
        years = [it.year for it in catalog.items if it.year is not None]
        self.newest_year = max(years) if years else None
        self.facets = FacetReader(catalog)
        self.read_facets = read_facets
        zipf("the")  # wordfreq loads its tables on first use (~0.4 s of CPU): here, not inside a reading budget
        self.popular = top_share(self.linker.prior, POPULAR_SHARE)
        # the words that ask for a whole genre ("funny", "romantic") and for the kind of item are
        # never topics; those naming a corner of one may be ("heist": crime, and heists)
        reserved = {w for cues in self.vocabulary.cues.values() for w in cues if w not in NARROW} \
            | {w for g in self.genre_names for w in (g, g.replace("-", " "), canonical(g))} | set(self.kind.words())
        self.topics = TopicReader(catalog, frozenset(reserved), NARROW)
        self._carriers = carriers(catalog)  # ("g", genre) / ("t", topic) -> rows (`_carrying`)

    def with_prior(self, prior: np.ndarray | None) -> "Reader":
        """This reader with another tie-breaking prior (a refitted CF model's counts): the
        title linker is rebuilt, the facet reader and vocabulary are shared."""
        import copy

        other = copy.copy(self)
        other.linker = TitleLinker(self.catalog, prior, WEAK_SHARE)
        other.popular = top_share(other.linker.prior, POPULAR_SHARE)
        return other

    # --- the stage ------------------------------------------------------------------------
    def read(self, message: str, session: Session) -> Reading:
        """The reading of one message in the conversation `session` (before this turn); the
        act "unread", and nothing taken from it, when it costs more than the reading budget."""
        message = " ".join(message.split())[:MAX_MESSAGE_CHARS]
        try:
            with reading_budget():
                return self._read(message, session)
        except ReadingOverrun:
            return Reading(text="", wanted_genres=(), banned_genres=(), cues={}, act="unread")

    def _read(self, message: str, session: Session) -> Reading:
        language = foreign_language(message) or ""
        asked = self._asked(message, session)
        if asked is not None:
            item_id, span, start, facet = asked
            head = read_turn("", self.vocabulary, self.newest_year)
            if start > 0:  # "the second one looks good. who's in it?": the first sentence is read too
                head = self._read_words(message[:start].rstrip(), session, None)
                head = replace(head, text="", spans=tuple(s for s in head.spans if s.kind in ("title", "list_ref")))
            return replace(head, asked_ids=(item_id,), act="question", spans=head.spans + (span,), language=language,
                           wanted_genres=(), banned_genres=(), cues={}, facet_filters=(), people=(), topics=(),
                           asked_facet=facet)
        undo_m = UNDO.search(message)
        correction_m = None if undo_m else CORRECTION.match(message)
        undo, correction = undo_m is not None, correction_m is not None
        repair = undo_m or correction_m
        reading = self._read_words(message, session, None if repair is None else (repair.start(), repair.end()))
        titles = spans_of(reading.spans, "title")
        if undo:
            # what it names is taken back: titles, people, genres ("forget the nolan thing");
            # nothing named: the whole last turn (Bot.update)
            undone = tuple(s.value for s in titles)
            said = set(re.findall(r"[a-z]+", fold(message)))
            # people of the conversation answer to any of their names ("forget the hanks thing")
            known = tuple(v for f in session.facet_filters if f.kind == "people" for v in f.values
                          if said & {w for w in re.findall(r"[a-z]+", fold(v)) if len(w) >= 4})
            values = tuple(dict.fromkeys(tuple(f.values[0] for f in reading.facet_filters if f.kind == "people")
                                         + known + reading.wanted_genres + reading.banned_genres + reading.topics
                                         + tuple(s.value for s in spans_of(reading.spans, "topic"))))
            spans = tuple(replace(s, polarity="undo") if s.kind in ("title", "person", "genre", "topic") else s
                          for s in reading.spans)
            return replace(reading, act="undo", undone_ids=undone, undone_values=values, liked_ids=(),
                           disliked_ids=(), seen_ids=(), spans=spans, text="", language=language, facet_filters=(),
                           people=(), wanted_genres=(), banned_genres=(), cues={}, topics=())
        if correction:
            # the earlier reading of titles is replaced by this one: what the last turn liked
            # or disliked goes, what this one names is liked (its "no" is about the reading)
            named = tuple(s.value for s in titles)
            if not named:
                # "no, I meant the other one, the one with hilary swank": who is in it picks
                # the film among those just shown (or spoken of), not a limit on the list
                named = self._picked_by_people(reading, session)
            undone = tuple(i for i in self._last_items(session) if i not in named) if named else ()
            spans = tuple(replace(s, polarity="+") if s.kind in ("title", "person") else s for s in reading.spans)
            # "the george clooney one": who is in the film picks it; it is no limit on the list
            which = [(m.start(), m.end()) for m in WHICH_ONE.finditer(message)]
            pickers = {s.value for s in reading.spans if s.kind == "person"
                       and any(a <= s.start and s.end <= b for a, b in which)}
            # "i meant tom hardy not tom hanks": the person ruled out in a correction is taken back
            kept = tuple(f for f in reading.facet_filters if not (f.kind == "people" and (
                self._describes(f, named) or ", ".join(f.values) in pickers)))
            taken_back = tuple(f.values[0] for f in kept if f.kind == "people" and f.negate)
            spans = tuple(replace(s, polarity="undo") if s.kind == "person" and s.value in taken_back else s
                          for s in spans)
            return replace(reading, act="correction", undone_ids=undone, liked_ids=named, disliked_ids=(),
                           seen_ids=(), spans=spans, language=language, undone_values=taken_back,
                           facet_filters=tuple(f for f in kept if not (f.kind == "people" and f.negate)))
        accepted = self._accepted(message, titles, session)
        intends = ACCEPT_BEFORE.search(message) is not None and not is_question(message)
        listed = [s for s in spans_of(reading.spans, "list_ref") if s.value.isdigit() and s.polarity != "-"]
        if not accepted and listed and (intends or ACCEPT_AFTER.search(message, listed[0].start)):
            # "ok ill watch the first one", "i'll take 2 and 4", "the second one it is, thanks!"
            accepted = tuple(session.last_ids[int(s.value) - 1] for s in listed)
            # "#3 sounds perfect" asks nothing more
            rest = " ".join(w for w in ACCEPT_AFTER.sub(" ", reading.text).split() if not w.startswith("#"))
            reading = replace(reading, text=rest if has_content(rest) else "")
        elif accepted == () and intends and reading.liked_ids:
            accepted = reading.liked_ids
        if accepted is not None and not (narrows(reading) or (asks(reading) and not intends)) \
                and not (is_question(message) and not accepted):
            spans = tuple(replace(s, polarity="accept") if (s.kind == "title" and s.value in accepted) or s in listed
                          else s for s in reading.spans)
            pointer = settled_reference(message) if not accepted else None
            one = referred(session) if pointer is not None else None
            if one is not None:
                # "that one it is, thanks": the title spoken of last, or the one the person's
                # previous turn named ("no, I meant Million Dollar Baby" before the list)
                accepted = (one,)
                spans += (Span("title", pointer.start(), pointer.end(), pointer.group(0), "accept", one),)
            elif pointer is not None and session.last_ids:
                # "that one it is, thanks" after a list, with no one title to point at: the reply asks
                spans += (Span("list_ref", pointer.start(), pointer.end(), pointer.group(0), "accept", "?"),)
            return replace(reading, act="accept", accepted_ids=accepted, liked_ids=accepted, spans=spans,
                           text="", language=language)
        act = self._act(message, reading, session)
        if reading.asked_ids and not (reading.liked_ids or reading.disliked_ids or asks(reading)):
            act = "question"
        if act == "question" and reading.asked_ids:
            return replace(reading, act=act, text="", language=language)
        if act == "question":
            # "is it kid friendly?", "Did you see Rampage?": about the title named, else the one spoken of last
            named = [s for s in titles if s.polarity != "-"]
            ref = REFERENCE.search(message)
            last = last_named(session)
            about = named[0].value if named else (last[0] if ref is not None and len(last) == 1 else None)
            listed = spans_of(reading.spans, "list_ref")
            if about is None and listed:  # "is the last one scary?"
                about = session.last_ids[int(listed[0].value) - 1]
                return asking(reading, about, tuple(replace(s, polarity="asked") if s.kind == "list_ref" else s
                                                    for s in reading.spans), language)
            if about is not None:
                spans = tuple(replace(s, polarity="asked") if s.kind == "title" and s.value == about else s
                              for s in reading.spans)
                if not named:
                    spans += (Span("title", ref.start(), ref.end(), ref.group(0), "asked", about),)
                return asking(reading, about, spans, language)
        return replace(reading, act=act, language=language)

    # --- parts ----------------------------------------------------------------------------
    def _asked(self, message: str, session: Session) -> tuple[str, Span, int, str] | None:
        """(item, span, where the question starts, what it asks: director, cast, runtime, about...)
        of a question about one item ("who
        directed Jaws?", "who's in it?"), the whole message or its last sentence ("the
        second one looks good. who's in it?"): a pronoun is the item the sentences before
        point at or name, else the item named last, else the top of the last list."""
        start = 0
        question = item_question(message)
        if question is None:
            sentences = list(re.finditer(r"[^.!?]+[.!?]*", message))
            if len(sentences) < 2:
                return None
            start = sentences[-1].start() + len(sentences[-1].group(0)) - len(sentences[-1].group(0).lstrip())
            question = item_question(message[start:])
            if question is None:
                return None
        refs = list_references(question.title, len(session.last_ids))
        if question.title.lower() in PRONOUNS:
            before = message[:start]
            pointed = [session.last_ids[p - 1] for p, _ in list_references(before, len(session.last_ids))]
            named = [i for t in session.transcript if t.seeker for i in t.item_ids]
            found = (pointed[:1] or [m.item_id for m in self.linker.find(before)][:1] or named[-1:]
                     or list(session.last_ids[:1]))
        elif refs:  # "whats #4 about", "who's in the second one"
            found = [session.last_ids[refs[0][0] - 1]]
        else:
            found = [m.item_id for m in self.linker.find(f'"{question.title}"')[:1]]
        if not found:
            return None
        at = max(start, message.lower().find(question.title.lower(), start))
        return (found[0], Span("title", at, at + len(question.title), question.title, "asked", found[0]), start,
                question.facet)

    def _last_items(self, session: Session) -> tuple[str, ...]:
        """Items the latest turn that named any liked or disliked."""
        for r in reversed(session.readings):
            if r.liked_ids or r.disliked_ids:
                return r.liked_ids + r.disliked_ids
        return ()

    def _describes(self, f: FacetFilter, item_ids: tuple[str, ...]) -> bool:
        """Whether a people filter only says who is in a named item ("Ocean's Eleven, the
        george clooney one"): a way to pick the film, not a limit on the list."""
        for i in item_ids:
            facets = self.catalog.items[self.catalog.row(i)].facets
            if any(v in facets.names(role) for v in f.values for role in facets.people):
                return True
        return False

    def _picked_by_people(self, reading: Reading, session: Session) -> tuple[str, ...]:
        """The one item of the last list (else of the titles spoken of last) that has every
        person the message wants, or () when none or several do."""
        wanted = [f for f in reading.facet_filters if f.kind == "people" and not f.negate]
        if not wanted:
            return ()
        for pool in (session.last_ids, last_named(session)):
            fits = [i for i in pool if all(self._describes(f, (i,)) for f in wanted)]
            if len(fits) == 1:
                return (fits[0],)
        return ()

    def _accepted(self, message: str, titles: list[Span], session: Session) -> tuple[str, ...] | None:
        """The pick a message settles on ("love actually it is. thanks!!", "I'll check it
        out"), () for a plain "perfect, thanks" or "thanks for the help", None when it
        settles on nothing."""
        for s in titles:
            if s.polarity != "-" and settles_on(message, s.start, s.end):
                return (s.value,)
        if not titles and (ACCEPT_PLAIN.match(message) or THANKS_FOR.search(message)
                           or (ACCEPT_BEFORE.search(message) and not is_question(message))
                           or settled_reference(message) is not None):
            return ()  # which one "that one" is: Reader._read
        spoken = session.last_ids or any(u.item_ids for u in session.transcript)
        farewell = any(not u.seeker and BYE.search(u.text) for u in session.transcript[-1:])
        if spoken and not farewell and small_talk(message) == "thanks" \
                and not has_content(message, self.kind.words() | COURTESY):
            return ()  # a bare "thanks!" once films were suggested
        return None

    def _context_mentions(self, raw: list[str], tokens: list[str], session: Session, taken: list[bool],
                          prefixes: bool) -> list[Mention]:
        """Titles already in the conversation (shown, named), found in any case; with
        `prefixes`, also by their first word ("requiem" for Requiem for a Dream)."""
        ids = list(dict.fromkeys(session.last_ids + session.liked_ids + session.disliked_ids
                                 + tuple(i for t in session.transcript for i in t.item_ids)))
        if not ids:
            return []
        keys: dict[str, str] = {}
        firsts: dict[str, str] = {}
        for i in ids:
            stem = self.linker.stems[self.catalog.row(i)]
            for key in {stem, stem[4:] if stem.startswith("the ") else stem, stem.split(" : ")[0]}:
                if key:
                    keys.setdefault(key, i)
            first = stem.split()[0] if stem else ""
            if prefixes and len(first) >= MIN_PREFIX and first not in COMMON_WORDS and first not in FILLER:
                firsts.setdefault(first, i)
            if i in session.last_ids:  # "nemo" for Finding Nemo in the list just shown
                for word in stem.split():
                    if len(word) >= MIN_LIST_WORD and word not in COMMON_WORDS and word not in FILLER \
                            and zipf(word) < LIST_RARE_ZIPF:
                        firsts.setdefault(word, i)
        found: list[Mention] = []
        longest = max(len(k.split()) for k in keys)
        for n in range(min(longest, len(raw)), 0, -1):
            for s in range(len(raw) - n + 1):
                if any(taken[s:s + n]):
                    continue
                phrase = phrase_at(tokens, s, n)
                item = keys.get(phrase) or (firsts.get(phrase) if n == 1 else None)
                if item is None or (n == 1 and (phrase in COMMON_WORDS or phrase in FILLER)):
                    continue
                if n == 1 and phrase in keys and (len(phrase) < MIN_LIST_WORD or zipf(phrase) >= EXACT_LIST_ZIPF):
                    continue  # "grown up dramas" does not name Up (2009); "collateral it is" names Collateral
                found.append(Mention(item, (s, s + n), " ".join(raw[s:s + n])))
                for k in range(s, s + n):
                    taken[k] = True
        return found

    def _confident_lowercase(self, raw: list[str], tokens: list[str], taken: list[bool]) -> list[Mention]:
        """Lower-case titles without a cue ("goonies", "american pie"), taken only where the
        item is popular and the words are unlikely as plain words: two or more words that
        make an exact title, or one word rarer than RARE_ZIPF in English. `raw`: the
        message's words; `tokens`: each folded as titles are (retrieval/titles.py)."""
        breaks = [w[-1:] in ",.;!?" for w in raw]  # a title does not run across these
        upper = [w[:1].isupper() for w in raw]
        digits = [t.isdigit() and len(t) <= 4 for t in tokens]
        found: list[Mention] = []
        for n in range(min(self.linker.max_words, len(raw)), 0, -1):
            for s in range(len(raw) - n + 1):
                # written with capitals: the linker's rules have already judged it; "home alone 2": a longer title
                if (any(taken[s:s + n]) or any(breaks[s:s + n - 1]) or any(upper[s:s + n])
                        or (s + n < len(raw) and digits[s + n])):
                    continue
                words = [t for t in tokens[s:s + n] if t]
                phrase = " ".join(words)
                rows = self.linker.by_title.get(phrase) or self.linker.main_titles.get(phrase)
                if not rows or all(w in COMMON_WORDS or w in FILLER for w in words):
                    continue
                row = max(rows, key=lambda r: self.linker.prior[r])
                # "babe and toy story": next to a title by "and" / "or", like the titles of a list
                listed = ((s + n + 1 < len(raw) and tokens[s + n] in ("and", "or") and taken[s + n + 1])
                          or (s >= 2 and tokens[s - 1] in ("and", "or") and taken[s - 2]))
                # two or more words of an exact title, or listed: an item in the top quarter; one word: the top tenth
                floor = self.popular if len(words) == 1 and not listed else self.linker.weak_min
                if self.linker.prior[row] <= 0 or self.linker.prior[row] < floor:
                    continue
                # right after a cue ("i watched inception last nite") a word may be commoner
                cued = s >= 1 and tokens[s - 1] in CUE
                if len(words) == 1 and not listed and (len(phrase) < MIN_WORD
                                                       or zipf(phrase) >= (CUED_ZIPF if cued else RARE_ZIPF)):
                    continue
                found.append(Mention(self.catalog.items[row].item_id, (s, s + n), " ".join(raw[s:s + n])))
                for k in range(s, s + n):
                    taken[k] = True
        return found

    def _not_subjects(self, message: str, words: list[str], starts: np.ndarray,
                      mentions: list[Mention]) -> list[Mention]:
        """The mentions less the lower-case titles that say who a film is for ("animated but
        for grown ups") or what it is about: one that runs into a topic of the catalog ("a
        movie about time travel" is not About Time) or lies inside a longer one, and one
        that is a topic after "about"/"involving" ("a movie about a road trip") or before
        the plural kind ("road trip movies"); the audience and topic readers then take the
        words. Written with a capital, a title stays a title."""
        lower = [m for m in mentions if not any(c.isupper() for c in m.surface)]
        if not lower:
            return mentions
        # who it is for is no title either: "animated but for grown ups" (Grown Ups, 2010)
        audiences = [(m.start(), m.end()) for pattern in (GROWN_UP, KIDS) for m in pattern.finditer(message)
                     if pattern is KIDS or FOR_WHOM.search(message, max(0, m.start() - 8), m.start())]
        topics = self.topics.find(message)
        kind = self.kind.words()
        drop = set()
        for m in lower:
            a = int(starts[m.span[0]])
            b = int(starts[m.span[1] - 1] + len(words[m.span[1] - 1].rstrip(",.;:!?")))
            if any(s <= a and b <= e for s, e in audiences):
                drop.add(id(m))
            for t in topics:
                if t.end <= a or b <= t.start or (a <= t.start and t.end <= b and (t.start, t.end) != (a, b)):
                    continue  # apart, or a topic inside the title ("the dark knight")
                before = [w.strip(",.;:!?") for w in message[:a].lower().split()[-2:]]
                after = [w.strip(",.;:!?") for w in message[b:].lower().split()[:1]]
                cued = bool(before) and (before[-1] in ABOUT or (len(before) == 2 and before[0] in ABOUT
                                                                 and before[1] in ARTICLES))
                plural_kind = bool(after) and after[0] in kind and after[0].endswith("s")
                if (t.start, t.end) != (a, b) or cued or plural_kind:
                    drop.add(id(m))
        return [m for m in mentions if id(m) not in drop]

    def _read_words(self, message: str, session: Session, repair: tuple[int, int] | None) -> Reading:
        """Titles, list references, people, limits, genres, years and the encoder's text.
        `repair`: where the message says it corrects or takes back ("no i meant", "i didn't
        say"): those words ask for nothing and negate nothing."""
        words = message.split()
        starts = np.cumsum([0] + [len(w) + 1 for w in words])  # char offset of each word
        blanked = message
        if repair is not None:
            blanked = blanked[:repair[0]] + " " * (repair[1] - repair[0]) + blanked[repair[1]:]
        plain = blanked  # the message as the verdicts read it (same offsets)
        scopes = negated_scopes(plain)
        mentions = self.linker.find(message)
        taken = [False] * len(words)
        for m in mentions:
            for k in range(*m.span):
                taken[k] = True
        tokens = [" ".join(WORDS.findall(fold(w))) for w in words]  # as the linker folds them
        mentions += self._context_mentions(words, tokens, session, taken, prefixes=repair is not None)
        mentions += self._confident_lowercase(words, tokens, taken)
        mentions = self._not_subjects(message, words, starts, mentions)
        liked: list[str] = []
        disliked: list[str] = []
        seen: list[str] = []
        asked: list[str] = []
        named_years: list[int] = []
        spans: list[Span] = []
        complaint = COMPLAINT.search(message) if session.last_ids else None
        judged: set[str] = set()
        for m in sorted(mentions, key=lambda m: m.span):
            last = words[m.span[1] - 1]
            # the span ends before trailing punctuation: "like X, not a comedy" is not against X
            a, b = int(starts[m.span[0]]), int(starts[m.span[1] - 1] + len(last.rstrip(",.;:!?")))
            if m.item_id in judged:  # said again ("Heat, Heat!"): its words are read, its verdict stands
                blanked = blanked[:a] + " " * (b - a) + blanked[b:]
                continue
            judged.add(m.item_id)
            said = verdict(plain, a, b, scopes)
            left, right = clause_bounds(plain, a, b)
            if right < len(plain) and plain[right] == "?" and ASKS_ABOUT.match(plain[left:a]):
                asked.append(m.item_id)  # "is Gone Baby Gone (2007) suspenseful?", "who stars in The Descent?"
                spans.append(Span("title", a, b, message[a:b], "asked", m.item_id))
                blanked = blanked[:a] + " " * (b - a) + blanked[b:]
                continue
            sentence = max(plain.rfind(".", 0, a), plain.rfind("!", 0, a), plain.rfind("?", 0, a)) + 1
            if said == "seen" and len(mentions) == 1 and POSITIVE.search(plain[sentence:a] + " " + plain[b:]):
                # "Seen sixth sense, it was awesome."; not the praise of an earlier sentence
                # ("seen it, loved it. also seen inception": Inception is seen, no more)
                said = "+"
            if complaint is not None and said == "+" and b <= complaint.start():
                said = "-"  # "babe and toy story?? those are kids movies": named to complain
            if said != "unseen":  # "I haven't seen Heat": named, but no verdict at all
                {"+": liked, "-": disliked, "seen": seen}[said].append(m.item_id)
                spans.append(Span("title", a, b, message[a:b], said, m.item_id))
            blanked = blanked[:a] + " " * (b - a) + blanked[b:]
            year = self.catalog.items[self.catalog.row(m.item_id)].year
            named_years += [year] if year is not None else []
        facets = self.facets.read(blanked) if self.read_facets else FacetReading()
        facets = self._topics_not_people(blanked, facets)
        for a, b in facets.spans:
            blanked = blanked[:a] + " " * (b - a) + blanked[b:]
        for a, b, f in facets.found:
            kind = "person" if f.kind == "people" else "limit"
            spans.append(Span(kind, a, b, message[a:b], "-" if f.negate else "+", ", ".join(f.values) or f.name))
        for a, b, item_ids in self._ruled_out_titles(blanked, scopes):  # "not rocky", "no harry potter"
            disliked.extend(item_ids)
            spans += [Span("title", a, b, message[a:b], "-", i) for i in item_ids]
            blanked = blanked[:a] + " " * (b - a) + blanked[b:]
        wanted_topics: list[str] = []
        topic_filters: list[FacetFilter] = []
        for t in self.topics.find(blanked):  # what it is about: "a heist movie", "no vampires"
            against = verdict(plain, t.start, t.end, scopes) == "-"
            if against:
                topic_filters.append(FacetFilter("cat", TOPIC_FACET, (t.value,), negate=True))
            else:
                wanted_topics.append(t.value)
            spans.append(Span("topic", t.start, t.end, message[t.start:t.end], "-" if against else "+", t.value))
        audience = ""
        if complaint is not None:
            # the complaint's words are ruled out: "those are kids movies" bans children's films
            blanked = blanked[:complaint.start()] + "no " + blanked[complaint.start(1):complaint.end(1)] + "." \
                + blanked[complaint.end(1):]
            if GROWN_UP.search(message):
                audience = "adults"
        if not audience and KIDS.search(blanked) and "children" in {c for c in self.vocabulary.cues}:
            audience = "kids"
        if GROWN_UP.search(blanked) and not complaint:
            audience = "adults"
        reading = read_turn(blanked, self.vocabulary, self.newest_year, self.kind.words())
        ruled_out = {w for f in topic_filters for v in f.values for w in v.split()}
        reading = replace(reading, facet_filters=facets.filters + tuple(dict.fromkeys(topic_filters)),
                          people=facets.people, unusable=facets.unusable, topics=tuple(dict.fromkeys(wanted_topics)),
                          # a topic ruled out is a filter, never "I can't rule out 'vampires'"
                          unused=tuple(u for u in reading.unused
                                       if not ruled_out & {w for x in u.lower().split() for w in singular_forms(x) + bases(x)}))
        refs = {pos: offset for pos, offset in reversed(list_references(message, len(session.last_ids)))}
        for pos, offset in sorted(refs.items(), key=lambda r: r[1]):  # each listed item once: its first reference
            item_id = session.last_ids[pos - 1]
            said = verdict(plain, offset, offset + 1, scopes)
            if said != "unseen":
                {"+": liked, "-": disliked, "seen": seen}[said].append(item_id)
                spans.append(Span("list_ref", offset, offset + 1, message[offset:offset + 1], said, str(pos)))
        if not mentions and not spans_of(spans, "list_ref"):
            # "it was great", "I'll check that one out": the title spoken of last
            ref = self._pronoun(plain, session, scopes)
            if ref is not None:
                a, b, item_id, said = ref
                {"+": liked, "-": disliked, "seen": seen}[said].append(item_id)
                spans.append(Span("title", a, b, message[a:b], said, item_id))
            group = GROUP.search(plain)
            spoken = next((t.item_ids for t in reversed(session.transcript) if not t.seeker and t.item_ids), ())
            if ref is None and group is not None and spoken and complaint is None:
                # "yeah love those too", "I've seen both of those": every item just spoken of
                said = verdict(plain, group.start(), group.end(), scopes)
                if said != "unseen" and (said != "+" or POSITIVE.search(plain) or ACCEPT_BEFORE.search(plain)):
                    {"+": liked, "-": disliked, "seen": seen}[said].extend(spoken)
                    spans.append(Span("list_ref", group.start(), group.end(), group.group(0), said, "all"))
        spans += self._genre_spans(message, reading)
        paging = is_paging(message)
        # what is left once titles are blanked, tidied: "I hated X, vampires" -> "vampires"
        text = re.sub(r"\s+([,.;!?])", r"\1", re.sub(r"\s+", " ", reading.text))
        text = re.sub(r"^(?:(?:i|and|but|so|also|not)\W+)+", "", text, flags=re.IGNORECASE).strip(" ,.;!?")
        if liked or disliked or seen or paging:
            # What is left after titles/references is the request ("more like #2" -> "").
            text = "" if paging else re.sub(r"(?i)\b(?:more|like|#\d+|the \w+ one|number \d+)\b", " ", text).strip()
            text = text if len(text.split()) >= 2 and has_content(text) else ""
        years = reading.years
        if years is None and reading.relative_years:
            # "older"/"newer" than the films named now, else than the last list (its median year)
            shown = sorted(y for i in session.last_ids if (y := self.catalog.items[self.catalog.row(i)].year))
            reference = named_years or ([shown[len(shown) // 2]] if shown else [])
            years = resolve_relative(reading.relative_years, reference)
        if years is not None:
            spans.append(Span("years", 0, 0, "", "+", years.describe()))
        if audience:
            spans.append(Span("audience", 0, 0, "", "+", audience))
        reading = replace(reading, text=text, liked_ids=tuple(dict.fromkeys(liked)),
                          asked_ids=tuple(dict.fromkeys(asked)),
                          disliked_ids=tuple(dict.fromkeys(disliked)), paging=paging, years=years,
                          seen_ids=tuple(i for i in dict.fromkeys(seen) if i not in liked + disliked),
                          spans=tuple(sorted(spans, key=lambda s: (s.start, s.end))), audience=audience)
        return self._request_so_far(reading, session)

    def _request_so_far(self, reading: Reading, session: Session) -> Reading:
        """The reading with `switch` set where a turn that asks for other genres or topics than
        the request so far opens a new one ("a movie about boxing", then "something funny for
        tonight with my kids") rather than narrowing it ("a horror movie", then "something
        funny": horror comedies), and a kids' audience carried over or left behind by a new
        request ("for my kids", then "now a dark crime thriller"). Read from the catalog: a
        turn narrows while enough items (`_few`) carry what both ask for, else it starts
        afresh. A turn that names a title is left as the words read it; one that says it
        starts anew ("now ...") keeps the audience only where it can be served."""
        new = {g for g in reading.wanted_genres if g in self.genre_names}
        topics = set(reading.topics)
        kids = "children" in self.genre_names and reading.audience == "kids"  # said in this turn
        if reading.switch:
            if session.audience == "kids" and not reading.audience:  # held, said again, or left behind
                keeps = (not new and not topics) or self._carrying(new | {"children"}, topics) >= self._few()
                return replace(reading, audience="kids" if keeps else "")
            return reading
        if reading.liked_ids or reading.disliked_ids or (not new and not topics):
            return reading
        old = {g for g in session.wanted_genres() if g in self.genre_names}  # with "children" for kids
        old_topics = set(session.wanted_topics())
        new |= {"children"} if kids else set()
        if (not old and not old_topics) or new & old or topics & old_topics or (new <= old and topics <= old_topics):
            return reading
        if self._carrying(new | old, topics | old_topics) >= self._few():
            return reading
        return replace(reading, switch=True)

    def _few(self) -> int:
        """Items that make a narrowed request worth keeping: a page (FEW_BOTH), or one in a
        hundred of a small catalog."""
        return min(FEW_BOTH, max(1, len(self.catalog) // 100))

    def _carrying(self, genres: set[str], topics: set[str]) -> int:
        """How many items carry every one of these genres and topics."""
        rows = None
        for have in [self._carriers.get(("g", g)) for g in genres] + [self._carriers.get(("t", t.lower()))
                                                                      for t in topics]:
            if have is None:
                return 0
            rows = have if rows is None else np.intersect1d(rows, have, assume_unique=True)
        return 0 if rows is None else len(rows)

    def _topics_not_people(self, text: str, facets: FacetReading) -> FacetReading:
        """The facet reading less the people read from one lower-case word that is a topic of
        the catalog ("no gore" rules out gore, not Gore Verbinski; "def not nolan" stays Nolan)."""
        def topical(a: int, b: int) -> bool:
            word = text[a:b]
            return word.islower() and " " not in word.strip() and self.topics.lookup([word.strip()]) is not None

        drop = [(a, b, f) for a, b, f in facets.found if f.kind == "people" and topical(a, b)]
        if not drop:
            return facets
        gone = {f for _, _, f in drop}
        names = {v for f in gone for v in f.values}
        return replace(facets, filters=tuple(f for f in facets.filters if f not in gone),
                       people=tuple(p for p in facets.people if p[0] not in names),
                       spans=tuple(sp for sp in facets.spans if not any(sp == (a, b) for a, b, _ in drop)),
                       found=tuple(x for x in facets.found if x not in drop))

    def _ruled_out_titles(self, text: str, scopes) -> list[tuple[int, int, tuple[str, ...]]]:
        """(start, end, items) of a title or series ruled out in lower case, which the linker
        leaves to a cue ("not rocky", "no harry potter please", "not star wars"): the words a
        negation scope starts with, longest first, naming a popular exact title (its most
        rated film) or the first words of two or more titles (the series). One word must be
        a rare one, no topic, genre or everyday word ("no vampires" is the topic)."""
        out = []
        for a, b, scope in scopes:
            a = max(a, b - len(scope))  # the words it negates, after the cue
            words = [(m.start() + a, m.end() + a, " ".join(WORDS.findall(fold(m.group(0)))))
                     for m in re.finditer(r"\S+", text[a:b])]
            words = [w for w in words if w[2]]
            while words and (words[0][2] in FILLER or words[0][2] in COMMON_WORDS):
                words = words[1:]
            for n in range(min(len(words), self.linker.max_words), 0, -1):
                phrase = " ".join(w[2] for w in words[:n])
                topic = self.topics.lookup([phrase]) if n == 1 else None
                if n == 1 and (len(phrase) < MIN_LIST_WORD or zipf(phrase) >= EXACT_LIST_ZIPF
                               or phrase in self.topics.reserved
                               or (topic is not None and self.topics.topics[topic] >= TOPIC_OVER_TITLE)):
                    continue
                rows = self.linker.by_title.get(phrase) or self.linker.main_titles.get(phrase)
                if rows:
                    row = max(rows, key=lambda r: self.linker.prior[r])
                    items = (self.catalog.items[row].item_id,) if self.linker.prior[row] >= self.popular else ()
                elif n >= 2 and len(series := self.linker.by_prefix.get(phrase, [])) >= 2:
                    series = sorted(series, key=lambda r: -self.linker.prior[r])[:MAX_SERIES]
                    items = tuple(self.catalog.items[r].item_id for r in series)
                else:
                    continue
                if items:
                    out.append((words[0][0], words[n - 1][1], items))
                break
        return out

    def _pronoun(self, message: str, session: Session, scopes) -> tuple[int, int, str, str] | None:
        """(start, end, item, verdict) of "it" / "that one" / "that movie" pointing at the
        title spoken of last (the latest turn naming exactly one item, either side), when
        the clause says something of it (liked, ruled out, seen, or a pick taken); a bare
        "it" in "is it scary?" or "I love it when..." is left alone."""
        last = last_named(session)
        if len(last) != 1:
            return None
        for m in REFERENCE.finditer(message):
            said = verdict(message, m.start(), m.end(), scopes)
            left, right = clause_bounds(message, m.start(), m.end())
            clause = message[left:right]
            if said == "unseen":
                continue  # "I haven't seen that one, but I've heard great things about it": the next one
            if said == "seen" and POSITIVE.search(message):
                said = "+"  # "I saw that, it was good."
            if said == "+" and not (POSITIVE.search(clause) or ACCEPT_BEFORE.search(clause) or WANT.search(clause)):
                continue
            return m.start(), m.end(), last[0], said
        return None

    def _genre_spans(self, message: str, reading: Reading) -> list[Span]:
        """Where each genre asked for or ruled out was said (its first cue word)."""
        out = []
        lower = message.lower()
        banned_cues = {g: () for g in reading.banned_genres}
        for genre, cues in list(reading.cues.items()) + list(banned_cues.items()):
            polarity = "-" if genre in reading.banned_genres else "+"
            for cue in cues or self.vocabulary.cues.get(genre, ()):
                m = re.search(rf"\b{re.escape(cue)}\b", lower)
                if m:
                    out.append(Span("genre", m.start(), m.end(), message[m.start():m.end()], polarity,
                                    self.genre_names.get(genre, genre)))
                    break
            else:
                out.append(Span("genre", 0, 0, "", polarity, self.genre_names.get(genre, genre)))
        return out

    def _act(self, message: str, reading: Reading, session: Session) -> str:
        """What the message mainly does, once its spans are read."""
        if reading.paging:
            return "more"
        talk = small_talk(message)
        words = set(re.findall(r"[a-z']+", message.lower()))
        picks = bool(words & (PICK_WORDS | self.kind.words() | {self.kind.verb}))
        limits = narrows(reading) or bool(reading.audience)
        named = bool(reading.liked_ids or reading.disliked_ids or reading.seen_ids)
        if BYE.search(message) and talk != "greeting" and not limits and not picks:
            return "goodbye"
        spoken = {i for t in session.transcript for i in t.item_ids}  # every film the conversation named
        if chit_chat(message, reading, self.kind.words() | {self.kind.verb}):
            # "Great.", "Awesome!" after films were named praise them; a bare "thanks" after the
            # other side's farewell closes
            if talk == "thanks" and any(not t.seeker and BYE.search(t.text) for t in session.transcript[-1:]):
                return "goodbye"
            return "like" if spoken and POSITIVE.search(message) and not is_question(message) else "small_talk"
        if ABOUT_IT.match(message) or (is_question(message) and not picks and not limits and not named):
            return "question"  # "is it kid friendly?", "did you see Rampage?"
        if not limits and not picks and reading.liked_ids and set(reading.liked_ids) <= spoken:
            return "like"  # liking what the other side suggested reacts to it
        if not limits and not picks and not named and POSITIVE.search(message) and spoken:
            return "like"  # "That was also a great movie, I laughed alot during it!"
        if asks(reading) or reading.liked_ids:
            return "request"  # a taste the person brings up asks for more like it
        if reading.disliked_ids:
            return "dislike"
        if reading.seen_ids:
            return "seen"
        if talk == "bye":
            return "goodbye"
        if is_question(message) and talk is None:
            return "question"
        return "small_talk"
