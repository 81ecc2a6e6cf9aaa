"""Every claim in a reason is true of the item and the session."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.conversation.justify import MIN_POPULAR, Claim, TemplateWriter, claims
from tests.helpers import tiny_bot

# u8 and u9 also rated m0/m1/m6, so popularity differs between items for a new visitor.
POPULAR = (("u8", 0), ("u8", 1), ("u9", 0), ("u9", 6))
SCRIPTS = [
    (None, (), ["funny cartoon for kids", "now a dark crime thriller, no cartoons"]),
    (None, ("m6",), ["something to watch tonight"]),
    ("u5", (), ["a scary movie"]),
    ("u1", ("m9",), ["Silly Robots", "show me more"]),
    (None, (), ["a Bo Kane film", "now something with Dee Vance"]),
    (None, (), ["something with Dee Vance under 130 minutes"]),
    (None, ("m0",), ["a cartoon rated G", "more"]),
    (None, (), ["mysterious lights over the harbour"]),
    (None, (), ["a crime movie under 2 hours from before 1992"]),  # m11 has no runtime: it fills the list
]


def check(claim: Claim, rec, session, bot) -> None:
    item = rec.item
    said = " ".join(session.turns).lower()
    filters = [f for f in session.facet_filters if not f.negate]
    if claim.kind == "genre":
        assert claim.value in item.genres and claim.cue in said
    elif claim.kind == "person":  # asked for in that role (or any role), and credited so
        assert claim.value in item.facets.names(claim.cue)
        assert any(f.kind == "people" and claim.value in f.values and f.name in ("", claim.cue) for f in filters)
    elif claim.kind == "shared_person":  # the item and a liked item share that person
        liked = [bot.catalog.items[bot.catalog.row(i)] for i in session.liked_ids]
        assert claim.value in item.facets.names(claim.cue)
        assert any(li.display_label() == claim.detail and claim.value in li.facets.names(claim.cue) for li in liked)
    elif claim.kind == "number":
        assert claim.value == f"{int(item.facets.numbers[claim.detail])} min"
        assert any(f.kind == "num" and f.name == claim.detail and f.keeps(item.facets) for f in filters)
    elif claim.kind == "number_unknown":  # listed to fill a short list: it lacks the number asked about
        assert claim.value not in item.facets.numbers
        assert any(f.kind == "num" and f.name == claim.value for f in filters)
    elif claim.kind == "years":  # released within the years the person limited
        assert claim.value == str(item.year) and session.years.contains(item.year)
        assert claim.cue == session.years.describe()
    elif claim.kind == "category":
        assert claim.value in item.facets.categories[claim.cue]
        assert any(f.kind == "cat" and f.name == claim.cue and claim.value in f.values for f in filters)
    elif claim.kind == "described":  # the person's own words, quoted
        assert any(r.text.startswith(claim.value.removesuffix(" ...")) for r in session.readings)
    elif claim.kind == "like_liked":
        assert claim.value in [bot.label(i) for i in session.liked_ids]
    elif claim.kind in ("liked_audience", "rated_audience", "mentioned_audience"):
        ev = rec.evidence
        assert ev is not None and ev.display_label() == claim.value and rec.cf > 0
        cf = bot.recommender.cf
        assert cf.similarity([bot.catalog.row(item.item_id)], [bot.catalog.row(ev.item_id)])[0, 0] > 0
        if claim.kind == "liked_audience":
            assert ev.item_id in session.liked_ids
        elif claim.kind == "mentioned_audience":
            assert ev.item_id not in session.liked_ids and any(ev.item_id in t.item_ids for t in session.transcript)
        else:
            assert bot.catalog.row(ev.item_id) in cf.user_history(session.user_id).item_rows
    elif claim.kind == "popular":
        assert int(claim.value) == int(bot.recommender.cf.counts[bot.catalog.row(item.item_id)]) >= MIN_POPULAR
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
            cs = claims(it.recommendation, session, bot.catalog)
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
            seen |= {c.kind for it in turn.items for c in claims(it.recommendation, session, bot.catalog)}
    assert seen == {"genre", "person", "shared_person", "number", "number_unknown", "years", "category",
                    "described", "like_liked",
                    "liked_audience", "rated_audience", "popular"}


def test_reasons_read_like_sentences_without_raw_numbers():
    bot = tiny_bot(k=3, alpha=0.5)
    turn = bot.respond("a Bo Kane film under 2 hours", bot.new_session("s"))
    reasons = [it.reason for it in turn.items]
    assert reasons[0].startswith("Directed by Bo Kane, whom you asked for; runs ")
    assert not any("similarity" in r or "0." in r for r in reasons)


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


# --- a pipeline that learnt from conversations (fusion/conversations.py terms) ----------
def conversation_bot():
    """The tiny catalog in context mode: co-occurrence CF from four dialogues, a
    "ratings" co-occurrence of each taste group, the recommendation-count prior."""
    from bot.conversation.chat import Bot, BotConfig
    from fusion.config import PipelineConfig
    from fusion.conversations import fit_cooccurrence
    from fusion.cooccur import CoOccurrence, CoOccurrenceCF
    from fusion.recommender import Recommender
    from fusion.terms import CoOccurTerm, PriorTerm
    from retrieval.dialogue import Dialogue, Utterance
    from retrieval.encoder import HashingEncoder
    from retrieval.retriever import Retriever
    from tests.conftest import make_catalog

    catalog = make_catalog()
    talks = [("m0", "m1"), ("m0", "m2"), ("m6", "m7"), ("m6", "m9")]  # seeker names one, recommender the other
    dialogues = [Dialogue(f"d{i}", (Utterance(True, "I loved it", (a,)), Utterance(False, "then try", (b,))))
                 for i, (a, b) in enumerate(talks)]
    cf = fit_cooccurrence(dialogues, catalog)
    ratings = CoOccurrence.fit([list(range(0, 6)), list(range(6, 12))], len(catalog))
    config = PipelineConfig(query="context", n_candidates=None, like_weight=1.0, mention_weight=1.0, alpha=0.5,
                            weights={"ratings": 0.3, "popularity": 0.3})
    rec = Recommender(Retriever.build(catalog, HashingEncoder(dim=256)), CoOccurrenceCF(cf), config,
                      [CoOccurTerm("ratings", ratings), PriorTerm("popularity", cf.popularity, cf.counts)])
    return Bot(rec, BotConfig(k=5)), cf, ratings


def test_conversation_claims_hold():
    bot, cf, ratings = conversation_bot()
    session = bot.new_session("s")
    kinds = set()
    for message in ("I loved Cartoon Kittens", "and Midnight Heist too"):
        turn = bot.respond(message, session)
        session = turn.session
        mentioned = {i for t in session.transcript for i in t.item_ids}
        for it in turn.items:
            r, row = it.recommendation, bot.catalog.row(it.recommendation.item.item_id)
            for c in claims(r, session):
                kinds.add(c.kind)
                if c.kind == "talked_together":  # the two really were named in one training dialogue
                    assert r.evidence.display_label() == c.value and r.evidence.item_id in mentioned
                    assert cf.sim[row, bot.catalog.row(r.evidence.item_id)] > 0
                elif c.kind == "co_liked":  # and liked together in the ratings log
                    ev = r.term_evidence["ratings"]
                    assert ev.display_label() == c.value and ev.item_id in mentioned
                    assert ratings.sim[row, bot.catalog.row(ev.item_id)] > 0
                elif c.kind == "recommended":
                    assert int(c.value) == cf.counts[row] > 0
    assert {"talked_together", "co_liked", "recommended"} <= kinds
    assert "recommended once in past conversations" in " ".join(it.reason for it in turn.items)


def test_a_ratings_pipeline_cites_the_conversations_it_learnt_from():
    """The MovieLens build with dialogues: ratings CF, plus the dialogues' co-occurrence as
    a term; its claim names a movie really talked about with the item, and one the person
    mentioned."""
    from bot.conversation.chat import Bot, BotConfig
    from fusion.cf import ItemKNN
    from fusion.config import PipelineConfig
    from fusion.conversations import fit_cooccurrence
    from fusion.recommender import Recommender
    from fusion.terms import CoOccurTerm
    from retrieval.dialogue import Dialogue, Utterance
    from retrieval.encoder import HashingEncoder
    from retrieval.retriever import Retriever
    from tests.conftest import make_catalog, make_checkerboard

    catalog = make_catalog()
    talks = [("m6", "m0"), ("m6", "m0"), ("m7", "m1")]  # across the taste groups: only the talks link them
    cooccur = fit_cooccurrence([Dialogue(f"d{i}", (Utterance(True, "I loved it", (a,)), Utterance(False, "try", (b,))))
                                for i, (a, b) in enumerate(talks)], catalog)
    config = PipelineConfig(alpha=0.5, n_candidates=None, weights={"dialogues": 2.0})
    rec = Recommender(Retriever.build(catalog, HashingEncoder(dim=256)), ItemKNN.fit(make_checkerboard(catalog), 12),
                      config, [CoOccurTerm("dialogues", cooccur)])
    bot = Bot(rec, BotConfig(k=5))
    turn = bot.respond("I loved Midnight Heist", bot.new_session("s"))
    cited = [(it.recommendation, c) for it in turn.items for c in claims(it.recommendation, turn.session)
             if c.kind == "talked_together"]
    assert cited and all(r.term_evidence["dialogues"].item_id == "m6" and c.value == "Midnight Heist (1990)"
                         and cooccur.sim[catalog.row(r.item.item_id), catalog.row("m6")] > 0 for r, c in cited)
    assert {r.item.item_id for r, _ in cited} == {"m0"}
    assert "people who talked about Midnight Heist (1990) in past conversations" in \
        next(it.reason for it in turn.items if it.recommendation.item.item_id == "m0")


def test_a_conversation_reading_pipeline_never_says_you_rated_what_only_came_up():
    """In context mode every item named in the conversation (the bot's own picks too) is CF
    evidence: the reason says it came up, not that the person rated it."""
    from fusion.config import PipelineConfig

    bot = tiny_bot(k=3, alpha=0.5)
    bot = type(bot)(bot.recommender.with_config(PipelineConfig(query="context", alpha=0.3, n_candidates=100)),
                    bot.config)
    session = bot.new_session("s")
    kinds = []
    for m in ("a funny cartoon please", "more of that sort"):
        turn = bot.respond(m, session)
        session = turn.session
        for it in turn.items:
            for c in claims(it.recommendation, session, bot.catalog):
                check(c, it.recommendation, session, bot)
                kinds.append(c.kind)
    assert "mentioned_audience" in kinds and "rated_audience" not in kinds
    assert "which came up in this conversation" in " ".join(it.reason for it in turn.items)


def test_the_popular_prior_cites_its_ratings_count():
    """A ratings-only pipeline weighing the "popular" prior (fusion/terms.py popular_term):
    an item it lifted says how many ratings it has, exactly the CF counts, and only from
    MIN_POPULAR up."""
    from bot.conversation.chat import Bot, BotConfig
    from fusion.terms import popular_term, request_terms

    base = tiny_bot(k=5, alpha=0.5, extra=POPULAR * 3)
    rec = base.recommender
    counts = rec.cf.counts
    assert counts.max() >= MIN_POPULAR > counts.min()  # some items may be called popular, some not
    # text alone in the fuser (α = 1): the CF popularity fallback cannot be what is cited
    config = rec.config.with_(alpha=1.0, weights={"popular": 1.0}, n_candidates=None)
    bot = Bot(type(rec)(rec.retriever, rec.cf, config, [*request_terms(rec.catalog, rec.retriever.item_vectors),
                                                         popular_term(counts)]), BotConfig(k=5))
    turn = bot.respond("mysterious lights over the harbour", bot.new_session("s"))
    cited = 0
    for it in turn.items:
        row = bot.catalog.row(it.recommendation.item.item_id)
        popular = [c for c in claims(it.recommendation, turn.session, bot.catalog) if c.kind == "popular"]
        if counts[row] >= MIN_POPULAR:
            assert [int(c.value) for c in popular] == [int(counts[row])]
            assert f"popular: {counts[row]} ratings in the data" in it.reason
            cited += 1
        else:
            assert not popular
    assert cited


def test_a_disliked_item_is_never_cited_as_the_audience_behind_a_pick():
    """EASE can give a disliked item a positive contribution (a negative coefficient times a
    negative weight); the reason must not then say its audience liked the pick."""
    from fusion.recommender import Recommendation

    bot = tiny_bot(k=5, alpha=0.5)
    session = replace(bot.new_session("s"), disliked_ids=("m6",))
    disliked = bot.catalog.items[bot.catalog.row("m6")]
    item = bot.catalog.items[bot.catalog.row("m7")]
    rec = Recommendation(item=item, rank=1, score=1.0, text=0.5, cf=0.9, alpha=0.5, similarity=0.3,
                         cf_source="history", evidence=disliked, popularity_count=0)
    kinds = [c.kind for c in claims(rec, session, bot.catalog)]
    assert not {"liked_audience", "mentioned_audience", "rated_audience"} & set(kinds)
    assert disliked.display_label() not in TemplateWriter().write(claims(rec, session, bot.catalog), rec)
