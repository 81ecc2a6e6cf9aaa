"""One negation and clause model for everything the reader finds in a message.

A message is cut into clauses at punctuation and contrastive words ("but", "though",
"however", "instead", ...). A negation cue ("no", "not", "nothing with", "never", "hate",
"didn't like", "nah", "def not", "can't stand", ...) opens a scope that runs to the end of
its clause, or earlier where a new wish starts ("no horror, I want a comedy", "nothing
scary and I'd like it short"). Genres, people, limits and titles inside a scope are ruled
out; a title is also spoken against by what the clause says after it ("Heat was boring",
"requiem for a dream would wreck me", "that one's too sad for me"), and only seen when the
clause says so and praises nothing ("I've seen Heat").

Used by the title, genre, facet and year readers alike (bot/conversation/understand.py,
facetread.py, reading.py), so "no", "nah" and "def not" mean the same to each of them.
Knows nothing of catalogs or sessions.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import lru_cache

# Clause boundaries: punctuation, and words that turn the sentence ("X but Y").
CLAUSE = re.compile(r"[.,;!?]+|\b(?:but|however|though|although|whereas|while|instead|rather|except that)\b",
                    re.IGNORECASE)
# Where a negated scope stops early: a new wish inside the same clause.
WISH = re.compile(r"\b(?:and (?:i |we )?(?:want|would like|'d like|like|love|prefer)|(?:i |we )?(?:want|would like|"
                  r"'d like|prefer|looking for)|i'?m (?:after|looking for|in the mood for))\b", re.IGNORECASE)
# Negation cues: each opens a scope to the end of its clause (slang included: "nah", "def not").
NEGATION = re.compile(
    r"\b(?:no|not|nothing|none of|without|never|avoid|except|skip|hate[ds]?|hated|dislike[ds]?|"
    r"(?:don'?t|doesn'?t|didn'?t|do not|does not|did not|won'?t|can'?t|cannot)\s+(?:want|like|enjoy|care for|stand|"
    r"handle|do|bear|watch)|no more|anything but|nah|nope|no way|can'?t stand|cannot stand|not a fan of|"
    r"sick of|tired of|had enough of|pass on|not into|bored (?:by|with)|disappointed (?:by|with)|meh)\b",
    re.IGNORECASE)
# A verdict said after a title, in its clause: "Heat was boring", "X would wreck me".
AGAINST_AFTER = re.compile(
    r"\b(?:boring|awful|terrible|bad|worst|meh|overrated|dull|stupid|lame|sucked|sucks|hated|wreck|wrecks|"
    r"destroy|destroys|ruin|ruins|too\s+(?:sad|depressing|scary|dark|violent|long|slow|much|heavy|gory|intense|"
    r"childish|cheesy|silly|weird)|not (?:for me|my thing|my cup of tea|good|great|that good)|no good|"
    r"can'?t handle|couldn'?t handle|couldn'?t finish|fell asleep)\b",
    re.IGNORECASE)
# "I haven't seen that one", "never heard of it": no verdict at all (not seen, not ruled out)
UNSEEN = re.compile(r"\b(?:haven'?t|have not|hasn'?t|never|not|didn'?t|did not|don'?t|do not)\s+(?:(?:yet|ever|even)\s+)?"
                    r"(?:seen|watched|saw|see|heard of|heard about|know|watch)\b", re.IGNORECASE)
# "... the hunger games and i didnt like it": a verdict that follows, in the same clause
AGAINST_LATER = re.compile(r"\b(?:didn'?t|did not|don'?t|do not)\s+(?:like|love|enjoy|care for)\b|\bhated?\b|\bdisliked?\b",
                           re.IGNORECASE)
SEEN = re.compile(r"\b(?:seen|saw|watched|read|already|finished)\b", re.IGNORECASE)
POSITIVE = re.compile(r"\b(?:lov(?:e|ed|ing)|lik(?:e|ed)|enjoy(?:ed)?|adored?|great|favou?rite|amazing|awesome|"
                      r"fantastic|brilliant|good|best|fun)\b", re.IGNORECASE)


# "thriller yes, horror no": a clause that ends in its negation (searched from the clause's
# end, so a long clause costs one pass)
POSTFIX = re.compile(r"\s(?:no|nope|nah|no thanks|no way)\s*$", re.IGNORECASE)


@lru_cache(maxsize=256)
def _boundaries(message: str) -> tuple[list[int], list[int]]:
    """(starts, ends) of the clause boundaries of `message`, in order: found once per
    message (every reader part asks), so clause look-ups are a bisection, not a scan."""
    found = [(m.start(), m.end()) for m in CLAUSE.finditer(message)]
    return [a for a, _ in found], [b for _, b in found]


def clause_bounds(message: str, start: int, end: int) -> tuple[int, int]:
    """[left, right) of the clause holding message[start:end]: from the last boundary
    before `start` to the first one after `end` (a title's own words are no boundary)."""
    starts, ends = _boundaries(message)
    i = bisect_right(ends, start)  # boundaries ending at or before `start`
    left = ends[i - 1] if i else 0
    j = bisect_left(starts, end)  # the first boundary starting at or after `end`
    right = starts[j] if j < len(starts) else len(message)
    return left, right


@lru_cache(maxsize=256)
def _negated_scopes(message: str) -> tuple[tuple[int, int, str], ...]:
    out = []
    starts, ends = _boundaries(message)
    for left, right in zip([0] + ends, starts + [len(message)]):
        post = POSTFIX.search(message, left, right)
        words = message[left:post.start()].strip() if post else ""
        if post and re.fullmatch(r"[\w' -]+", words):
            a = message.index(words, left)
            out.append((a, a + len(words), " " + words + " "))
    reach = -1  # a cue inside an earlier scope adds nothing ("no no no ..." is one scope)
    for m in NEGATION.finditer(message):
        if m.start() < reach:
            continue
        _, right = clause_bounds(message, m.start(), m.end())
        wish = WISH.search(message, m.end(), right)
        stop = wish.start() if wish else right
        out.append((m.start(), stop, message[m.end():stop]))
        reach = stop
    return tuple(out)


def negated_scopes(message: str) -> list[tuple[int, int, str]]:
    """(start, end, scope) of each negation: from its cue to the end of its clause or the
    next wish; `scope` is the text it negates ("no horror but a comedy" -> " horror "). A
    clause that ends in "no" ("horror no") negates what comes before it."""
    return list(_negated_scopes(message))


def in_scope(scopes: list[tuple[int, int, str]], position: int) -> bool:
    return any(a <= position < b for a, b, _ in scopes)


# Characters of its clause either side of a mention that its verdict reads: the words that
# judge a title stand near it ("I didn't like Heat", "Heat was too slow"), and a clause
# without punctuation as long as the message would make every verdict read all of it.
VERDICT_REACH = 200


def verdict(message: str, start: int, end: int, scopes: list[tuple[int, int, str]] | None = None) -> str:
    """What the clause around message[start:end] (a title, a list reference) says of it:
    "-" (ruled out or spoken against), "seen" (seen, no verdict), "unseen" (not seen, no
    verdict: "I haven't seen Heat") or "+"."""
    scopes = negated_scopes(message) if scopes is None else scopes
    left, right = clause_bounds(message, start, end)
    left, right = max(left, start - VERDICT_REACH), min(right, end + VERDICT_REACH)
    after = message[end:right]
    clause = message[left:start] + " " + after
    if UNSEEN.search(clause) and not POSITIVE.search(clause):
        return "unseen"
    if in_scope(scopes, start):
        return "-"
    if AGAINST_AFTER.search(after) or AGAINST_LATER.search(after):
        return "-"
    # the mention's own words say nothing ("Bad Boys")
    if SEEN.search(clause) and not POSITIVE.search(clause):
        return "seen"
    return "+"
