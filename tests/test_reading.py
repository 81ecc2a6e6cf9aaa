"""The one reading stage (bot/conversation/reading.py) on a catalog with known answers
(tests/data/movies: 36 films with directors, casts, runtimes and ratings): acts, spans
and what the state keeps, for the casual phrasings people type."""

from __future__ import annotations

import numpy as np
import pytest

from bot.conversation.negation import negated_scopes, verdict
from bot.conversation.reading import Reader
from bot.conversation.state import Session, session_from_json, session_to_json
from retrieval.dialogue import Utterance
from tests.helpers import DATA, fixture_bot


@pytest.fixture(scope="module")
def bot():
    return fixture_bot(DATA / "movies", k=5)


def shown(session: Session, *ids: str) -> Session:
    return session.with_shown(ids, Utterance(False, "list", ids))


def test_one_negation_model():
    assert [s for _, _, s in negated_scopes("no horror but a comedy")] == [" horror "]
    assert [s for _, _, s in negated_scopes("nothing scary, I want a comedy")] == [" scary"]
    assert [s for _, _, s in negated_scopes("nah not that one")] == [" not that one"]  # one scope, not two
    msg = "requiem for a dream would wreck me lol"
    assert verdict(msg, 0, len("requiem for a dream")) == "-"
    assert verdict("I've seen Heat", 10, 14) == "seen"
    assert verdict("Heat was great", 0, 4) == "+"
    assert verdict("def not Heat lol", 8, 12) == "-"
    assert verdict("Bad Boys was fun", 0, 8) == "+"  # a title's own words say nothing


def test_a_correction_replaces_the_earlier_title_and_is_no_ban(bot):
    s = bot.listen("I loved Heat", bot.new_session("s"))
    assert s.liked_ids == ("heat",)
    r = bot.read("no i meant Collateral the jamie foxx one", s)
    assert r.act == "correction" and r.liked_ids == ("collateral",) and r.undone_ids == ("heat",)
    assert not r.facet_filters  # Jamie Foxx picks the film; he is no limit on the list
    after = bot.update(s, "no i meant Collateral the jamie foxx one", r)
    assert after.liked_ids == ("collateral",) and after.disliked_ids == ()
    turn = bot.respond("no i meant Collateral the jamie foxx one", s)
    assert turn.items and "Only" not in turn.reply and "not Collateral" not in turn.reply


def test_taking_a_like_back(bot):
    s = bot.listen("I loved Saving Private Ryan", bot.new_session("s"))
    r = bot.read("wait i didn't say i liked saving", s)  # the first word of a title in the conversation
    assert r.act == "undo" and r.undone_ids == ("ryan",) and not r.liked_ids
    assert bot.update(s, "x", r).liked_ids == ()


def test_x_it_is_accepts_the_pick_and_ends(bot):
    s = shown(bot.new_session("s"), "heat", "collateral", "memento")
    turn = bot.respond("collateral it is. thanks!!", s)
    r = turn.session.readings[-1]
    assert r.act == "accept" and r.accepted_ids == ("collateral",)
    assert not turn.items and turn.reply.startswith("Great choice: enjoy Collateral (2004)")
    plain = bot.respond("perfect, thanks", s)
    assert not plain.items and plain.session.readings[-1].act == "accept"


def test_a_numbered_pick_it_is_accepts_that_pick(bot):
    s = shown(bot.new_session("s"), "heat", "collateral", "memento")
    turn = bot.respond("the second one it is, thanks!", s)
    r = turn.session.readings[-1]
    assert r.act == "accept" and r.accepted_ids == ("collateral",)
    assert not turn.items and turn.reply.startswith("Great choice: enjoy Collateral (2004)")
    r = bot.read("#3 sounds perfect", s)
    assert r.act == "accept" and r.accepted_ids == ("memento",)
    r = bot.read("not the second one, something older", s)  # ruled out: no pick taken
    assert r.act != "accept" and r.disliked_ids == ("collateral",)


def test_that_one_it_is_after_a_list_asks_which(bot):
    """Several films shown and none spoken of alone: "that one" names none, so the bot asks."""
    s = shown(bot.new_session("s"), "heat", "collateral", "memento")
    turn = bot.respond("that one it is, thanks", s)
    assert turn.session.readings[-1].act == "accept" and turn.session.readings[-1].accepted_ids == ()
    assert not turn.items and turn.reply.startswith("Glad one of them caught your eye! Which one is it?")
    assert bot.respond("perfect, thanks", s).reply.startswith("You're welcome!")  # no pointer: nothing to ask


def test_that_one_after_a_correction_accepts_the_film_corrected_to(bot):
    """Issue 31, a stranger's chat: "i loved rocky" -> list -> "no, I meant the other one,
    million dollar baby" -> list -> "that one it is, thanks" settles on the film corrected
    to, not on the list shown after it; so do the close variants."""
    s = shown(bot.listen("I loved Heat", shown(bot.new_session("s"), "heat", "ryan", "jaws")), "memento", "prestige")
    s = shown(bot.listen("no i meant Collateral", s), "memento", "prestige", "bttf")
    turn = bot.respond("that one it is, thanks", s)
    r = turn.session.readings[-1]
    assert r.act == "accept" and r.accepted_ids == ("collateral",)
    assert [(x.kind, x.text, x.polarity, x.value) for x in r.spans] == [("title", "that one", "accept", "collateral")]
    assert not turn.items and turn.reply.startswith("Great choice: enjoy Collateral (2004)")
    for message in ("that one it is", "that's the one", "ok that one then", "i'll go with that one",
                    "sounds good, that one", "yes this one please"):
        r = bot.read(message, s)
        assert (r.act, r.accepted_ids) == ("accept", ("collateral",)), message
    for message in ("not that one", "is that one any good?", "i loved that one"):  # no pick taken
        assert bot.read(message, s).act != "accept", message
    done = bot.respond("that's it, thanks", s)  # done, no film pointed at: nothing to ask
    assert done.session.readings[-1].accepted_ids == () and done.reply.startswith("You're welcome!")


def test_that_one_after_a_question_about_one_film_accepts_it(bot):
    s = shown(bot.new_session("s"), "heat", "collateral", "memento")
    s = shown(bot.listen("is memento any good?", s), "prestige", "inception")  # a list came after the answer
    r = bot.read("that one it is, thanks", s)
    assert r.act == "accept" and r.accepted_ids == ("memento",)


def test_that_one_after_two_films_named_asks_which(bot):
    """The previous turn named two films: "that one" is either, so the bot asks, as after a list."""
    s = shown(bot.listen("I loved Heat and Memento", bot.new_session("s")), "prestige", "collateral")
    turn = bot.respond("that one it is, thanks", s)
    assert turn.session.readings[-1].act == "accept" and turn.session.readings[-1].accepted_ids == ()
    assert turn.reply.startswith("Glad one of them caught your eye! Which one is it?")
    assert bot.read("ok that one then", s).accepted_ids == ()


def test_it_after_a_film_liked_and_a_list_is_not_the_film_liked(bot):
    """A stranger's chat: "i loved rocky" -> list -> "i'll watch it" settled on Rocky, a film
    they have seen. After a like, "it" is one of the list: the bot asks which."""
    s = shown(bot.listen("I loved Heat", bot.new_session("s")), "collateral", "memento", "prestige")
    for message in ("i'll watch it", "that one it is, thanks"):
        turn = bot.respond(message, s)
        r = turn.session.readings[-1]
        assert r.act == "accept" and r.accepted_ids == (), message
        assert turn.reply.startswith("Glad one of them caught your eye! Which one is it?"), message


def test_a_correction_that_names_who_is_in_it_picks_that_film_from_the_list(bot):
    """ "no, I meant the other one, the one with jamie foxx": the shown film with him is
    liked; he is no limit on the list."""
    s = shown(bot.new_session("s"), "heat", "collateral", "memento")
    r = bot.read("no, I meant the other one, the one with jamie foxx", s)
    assert r.act == "correction" and r.liked_ids == ("collateral",) and not r.facet_filters
    both = shown(bot.new_session("s"), "heat", "collateral")
    r = bot.read("no, i meant the one with michael mann", both)  # both are his: nothing is picked
    assert r.liked_ids == () and r.facet_filters


def test_moods_after_a_list_ask_for_the_genre_they_stand_for(bot):
    assert bot.read("something happier", bot.new_session("s")).wanted_genres == ("comedy",)
    assert bot.read("something less heavy please", bot.new_session("s")).wanted_genres == ("comedy",)
    assert bot.read("i want to cry tonight", bot.new_session("s")).wanted_genres == ("drama",)


def test_a_complaint_about_the_list_steers_away(bot):
    s = shown(bot.new_session("s"), "toystory", "nemo", "shrek")
    r = bot.read("toy story and nemo?? those are kids movies lol. grown up dramas", s)
    assert r.act == "request"
    assert set(r.disliked_ids) == {"toystory", "nemo"} and not r.liked_ids
    assert "children" in r.banned_genres and "children" not in r.wanted_genres and "drama" in r.wanted_genres
    assert r.audience == "adults"
    turn = bot.respond("toy story and nemo?? those are kids movies lol. grown up dramas", s)
    assert all("Children" not in ri.recommendation.item.genres for ri in turn.items)


def test_slang_negation_of_a_person(bot):
    r = bot.read("def not nolan lol", bot.new_session("s"))
    (f,) = r.facet_filters
    assert f.kind == "people" and f.values == ("Christopher Nolan",) and f.negate
    r = bot.read("nah, no tom hanks", bot.new_session("s"))
    assert [f.negate for f in r.facet_filters] == [True]


def test_an_audience_holds_until_changed(bot):
    s = bot.listen("something for my kids, 6 and 9", bot.new_session("s"))
    assert s.audience == "kids" and not s.liked_ids
    s = bot.listen("now something funnier", s)
    assert "children" in bot.query(s).wanted_genres
    s = bot.listen("actually for adults", s)
    assert s.audience == "adults" and "children" not in bot.query(s).wanted_genres


def test_lower_case_titles_with_a_confidence():
    from retrieval.loaders import load_catalog

    catalog = load_catalog(DATA / "movies" / "movies.csv")
    prior = np.zeros(len(catalog))
    for i in ("twelve", "heat", "superbad"):
        prior[catalog.row(i)] = 10.0  # the three most popular
    reader = Reader(catalog, prior)
    empty = Session("s")
    assert reader.read("12 monkeys was great", empty).liked_ids == ("twelve",)  # exact, two words, popular
    assert reader.read("superbad was hilarious", empty).liked_ids == ("superbad",)  # one word, rare in English
    assert reader.read("something to beat the heat tonight", empty).liked_ids == ()  # 'heat' is a plain word
    assert reader.read("looper was great", empty).liked_ids == ()  # rare, but not popular: too weak


def test_readings_have_typed_spans(bot):
    r = bot.read("I loved Heat but no horror, something from the 90s", bot.new_session("s"))
    kinds = {(s.kind, s.polarity, s.value) for s in r.spans}
    assert ("title", "+", "heat") in kinds and ("genre", "-", "Horror") in kinds
    assert ("years", "+", "1990-1999") in kinds
    title = next(s for s in r.spans if s.kind == "title")
    assert "I loved Heat but no horror, something from the 90s"[title.start:title.end] == "Heat"


def test_state_snapshots_keep_the_reading_and_read_the_old_format(bot):
    s = bot.listen("something for my kids, no horror", bot.new_session("s"))
    d = session_to_json(s)
    assert session_from_json(d) == s
    old = dict(d, format=2)
    for r in old["readings"]:
        for key in ("act", "spans", "undone_ids", "accepted_ids", "audience", "language"):
            r.pop(key)
    old.pop("audience")
    back = session_from_json(old)
    assert back.readings[0].act == "request" and back.audience == "" and back.banned_genres == s.banned_genres


def test_undo_takes_back_the_last_turn_and_the_reply_says_what_it_took(bot):
    s = bot.respond("a thriller, no horror", bot.new_session("s")).session
    t = bot.respond("with tom hanks from the 90s", s)
    assert t.reply.startswith("Noted: with Tom Hanks; 1990-1999. Say 'undo' to take it back.")
    assert t.session.years is not None and t.session.facet_filters
    u = bot.respond("undo", t.session)
    r = u.session.readings[-1]
    assert r.act == "undo" and u.reply.startswith("Taken back: what your message 'with tom hanks from the 90s' asked for.")
    assert u.session.years is None and not u.session.facet_filters
    assert "horror" in u.session.banned_genres  # the turn before stays
    assert set(t.session.shown_ids) <= set(u.session.shown_ids)  # lists shown stay shown
    again = bot.respond("scratch that", u.session)  # the undo itself is never what is taken back
    assert "horror" not in again.session.banned_genres


def test_a_question_about_the_title_spoken_of_is_answered_from_the_catalog(bot):
    s = shown(bot.new_session("s"), "toystory")  # the bot's last turn named one film
    turn = bot.respond("is it kid friendly?", s)
    r = turn.session.readings[-1]
    assert r.act == "question" and r.asked_ids == ("toystory",) and not turn.items
    assert turn.reply.startswith("Toy Story (1995): Animation, Children, Comedy · John Lasseter")
    assert "G" in turn.reply and "all the catalog tells me" in turn.reply


def test_praise_of_those_just_suggested_likes_them_all(bot):
    s = shown(bot.new_session("s"), "heat", "collateral")
    r = bot.read("yeah love those too", s)
    assert r.act == "like" and set(r.liked_ids) == {"heat", "collateral"}
    assert bot.read("bye, have a great day", s).act == "goodbye"
    assert bot.read("you too!", s).act == "goodbye"


def test_a_kids_audience_keeps_adult_ratings_out_of_later_lists(bot):
    s = bot.respond("something for my kids, 6 and 9", bot.new_session("s")).session
    t = bot.respond("something funnier", s)
    rated = [ri.recommendation.item.facets.categories.get("mpaa", ()) for ri in t.items]
    assert t.items and not any(set(r) & {"R", "NC-17", "PG-13"} for r in rated)
    assert bot.query(t.session).audience == "kids"
    grown = bot.respond("actually for adults", t.session)
    assert bot.query(grown.session).audience != "kids"


def test_taking_back_a_person_or_a_genre_by_name(bot):
    s = bot.listen("a thriller, no horror, with tom hanks", bot.new_session("s"))
    s = bot.listen("something from the 90s", s)
    t = bot.respond("forget the hanks thing", s)
    r = t.session.readings[-1]
    assert r.act == "undo" and r.undone_values == ("Tom Hanks",)
    assert not t.session.facet_filters and t.session.years is not None  # only Hanks went
    assert t.reply.startswith("Taken back: what I noted about Tom Hanks.")
    c = bot.listen("with tom hanks", bot.new_session("c"))
    c2 = bot.listen("i meant tom hardy not tom hanks lol", c)
    assert c2.readings[-1].act == "correction"
    assert [(f.values, f.negate) for f in c2.facet_filters] == [(("Tom Hardy",), False)]


def test_praise_in_an_earlier_sentence_does_not_turn_seen_into_liked(bot):
    s = bot.listen("I loved Heat", bot.new_session("s"))
    r = bot.read("seen it, loved it. also seen memento", s)
    assert "memento" in r.seen_ids and "memento" not in r.liked_ids
    assert bot.read("Seen memento, it was awesome.", bot.new_session("s")).liked_ids == ("memento",)


def test_casual_fillers_are_no_phrase_the_bot_cannot_rule_out(bot):
    s = shown(bot.new_session("s"), "heat", "collateral", "memento")
    r = bot.read("not heat tho", s)
    assert r.disliked_ids == ("heat",) and not r.unused


def test_a_turn_asking_for_what_no_film_of_the_request_has_starts_a_new_one(bot, monkeypatch):
    from bot.conversation import reading as reading_module

    monkeypatch.setattr(reading_module, "FEW_BOTH", 3)  # the fixture has three war comedies, no horror comedy
    war = bot.listen("a war movie", bot.new_session("s"))
    narrowed = bot.read("something funny", war)
    assert narrowed.wanted_genres == ("comedy",) and not narrowed.switch  # M*A*S*H, Kelly's Heroes, Catch-22
    assert set(bot.query(bot.listen("something funny", war)).wanted_genres) == {"war", "comedy"}
    horror = bot.listen("a horror movie", bot.new_session("t"))
    fresh = bot.listen("something funny", horror)
    assert fresh.readings[-1].switch and bot.query(fresh).wanted_genres == ("comedy",)
    assert "horror" not in fresh.wanted_cues()  # reasons cite the words of the current request only
    kids = bot.listen("something for my kids", horror)  # horror for children: none, a new request
    assert kids.readings[-1].switch and bot.query(kids).audience == "kids"
    # a turn that names a title, or asks again for what the request has, is read as before
    assert not bot.read("something funny like Jaws", horror).switch
    assert not bot.read("a scary horror movie", horror).switch


def test_lower_case_titles_that_say_what_or_who_a_film_is_for_are_no_titles(bot):
    s = bot.new_session("s")
    for message in ("animated but for grown ups", "something about grown ups", "a movie for grown ups"):
        assert not bot.read(message, s).liked_ids, message  # Grown Ups (2010) is in the fixture
    assert bot.read("i loved grown ups", s).liked_ids == ("grownups",)
    assert bot.read("a movie about Grown Ups", s).liked_ids == ("grownups",)  # written as a title


def test_the_title_prior_takes_the_better_known_of_ratings_and_conversations():
    import numpy as np

    from bot.conversation.chat import counted_share

    ratings = np.array([0, 1, 1, 5, 100, 0], np.float64)
    assert np.allclose(counted_share(ratings), [0, 0, 0, 0.5, 0.75, 0], atol=1e-6)  # of the 4 items rated
    mentions = np.array([17, 0, 0, 0, 1, 0], np.float64)  # named 17 times: as known as the median rated film
    both = np.maximum(counted_share(ratings), counted_share(mentions))
    assert np.allclose(both, [0.5, 0, 0, 0.5, 0.75, 0], atol=1e-6)
    assert both[1] > 0 == both[5]  # rated once is more than never counted
