"""Every claim in a reason is true of the item and the session."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.justify import Claim, claims
from tests.helpers import tiny_bot

# u8 and u9 also rated m0/m1/m6, so popularity differs between items for a new visitor.
POPULAR = (("u8", 0), ("u8", 1), ("u9", 0), ("u9", 6))
SCRIPTS = [
    (None, (), ["funny cartoon for kids", "now a dark crime thriller, no cartoons"]),
    (None, ("m6",), ["something to watch tonight"]),
    ("u5", (), ["a scary movie"]),
    ("u1", ("m9",), ["Silly Robots", "show me more"]),
]


def check(claim: Claim, rec, session, bot) -> None:
    item = rec.item
    said = " ".join(session.turns).lower()
    if claim.kind == "genre":
        assert claim.value in item.genres and claim.cue in said
    elif claim.kind == "title_word":
        assert claim.value in item.title.lower() and claim.value in said
    elif claim.kind == "similar_text":
        assert float(claim.value) == pytest.approx(rec.similarity, abs=0.005)
    elif claim.kind in ("liked_audience", "rated_audience"):
        ev = rec.evidence
        assert ev is not None and ev.label() == claim.value and rec.cf > 0
        cf = bot.recommender.cf
        assert cf.similarity([bot.catalog.row(item.item_id)], [bot.catalog.row(ev.item_id)])[0, 0] > 0
        if claim.kind == "liked_audience":
            assert ev.item_id in session.liked_ids
        else:
            assert bot.catalog.row(ev.item_id) in cf.user_history(session.user_id).item_rows
    elif claim.kind == "popular":
        assert int(claim.value) == int(bot.recommender.cf.counts[bot.catalog.row(item.item_id)]) > 0
    else:
        raise AssertionError(f"unknown claim kind {claim.kind}")


@pytest.mark.parametrize("user, liked, messages", SCRIPTS)
def test_every_claim_holds(user, liked, messages):
    bot = tiny_bot(k=5, alpha=0.5, extra=POPULAR)
    session = replace(bot.new_session("s", user), liked_ids=liked)
    kinds = set()
    for m in messages:
        turn = bot.respond(m, session)
        session = turn.session
        for it in turn.items:
            cs = claims(it.recommendation, session)
            assert cs, "every item has at least one reason"
            for c in cs:
                check(c, it.recommendation, session, bot)
                kinds.add(c.kind)
    assert kinds  # the scripts exercise claims at all


def test_scripts_cover_every_claim_kind():
    seen = set()
    for user, liked, messages in SCRIPTS:
        bot = tiny_bot(k=5, alpha=0.5, extra=POPULAR)
        session = replace(bot.new_session("s", user), liked_ids=liked)
        for m in messages:
            turn = bot.respond(m, session)
            session = turn.session
            seen |= {c.kind for it in turn.items for c in claims(it.recommendation, session)}
    assert seen == {"genre", "title_word", "similar_text", "liked_audience", "rated_audience", "popular"}


def test_pluggable_writer_gets_only_claims():
    seen = []

    class Shouty:
        def write(self, cs, rec):
            seen.append(cs)
            return " / ".join(f"{c.kind.upper()}={c.value}" for c in cs)

    bot = tiny_bot(k=2)
    bot.writer = Shouty()
    turn = bot.respond("funny cartoon for kids", bot.new_session("s"))
    assert seen and all(it.reason.startswith("GENRE=") for it in turn.items)
