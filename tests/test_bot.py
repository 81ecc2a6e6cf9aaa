"""The chat logic without a browser: understanding, session state, reasons, rendering."""

from __future__ import annotations

import pytest

from bot.conversation.chat import BadInput
from bot.conversation.render import escape
from bot.conversation.understand import Years, read_turn, resolve_relative
from bot.conversation.vocabulary import GenreVocabulary
from retrieval.facets import BOOK
from tests.helpers import tiny_bot


def test_read_turn_wanted_and_negated():
    r = read_turn("I would like a funny animated movie for kids")
    assert set(r.wanted_genres) == {"comedy", "animation", "children"} and not r.banned_genres
    r = read_turn("now something darker for adults, no cartoons")
    assert "animation" in r.banned_genres and "children" in r.banned_genres
    assert "cartoons" not in r.text and "darker" in r.text
    r = read_turn("I hate romance and want action")
    assert r.banned_genres == ("romance",) and r.wanted_genres == ("action",)


@pytest.mark.parametrize("message, years", [
    ("after 2000", (2001, None)), ("since 1995 please", (1995, None)), ("before 1980", (None, 1979)),
    ("between 1970 and 1985", (1970, 1985)), ("a comedy from the 80s", (1980, 1989)),
    ("late 90s thriller", (1996, 1999)), ("early 2000s", (2000, 2003)), ("the nineties", (1990, 1999)),
    ("'60s westerns", (1960, 1969)), ("nothing before 1990", (1990, None)),
    ("nothing after 2010", (None, 2010)), ("pre-1970 noir", (None, 1969)),
    ("released in 1999", (1999, 1999)), ("recent sci-fi", (2007, None)), ("any year is fine", (None, None)),
    ("something more recent, after 2000", (2001, None)),  # the number beats the comparative
    # negated ages are limits the other way round (each once gave the opposite or nothing)
    ("no old movies please", (1980, None)), ("a comedy, nothing too old", (1980, None)),
    ("not too recent", (None, 2006)), ("nothing too new please", (None, 2006)),
    ("nothing too old though, after 2000", (2001, None)),  # the number, said last, wins
])
def test_read_turn_years(message, years):
    r = read_turn(message, newest_year=2016)
    assert r.years == Years(*years) and r.relative_years == ""


@pytest.mark.parametrize("message, relative", [
    ("not from the 80s", ""),  # two ranges: left to the words
    ("a film for older kids", ""), ("a funny movie", ""), ("a date movie for a couple in their 30s", ""),
    ("something older", "older"), ("anything newer?", "newer"),
    ("I like older ones like Groundhog Day, or also newer ones", ""),  # both: a taste, no limit
    ("nothing older please", "newer"), ("nothing newer", "older"),  # than what was shown
])
def test_read_turn_no_years(message, relative):
    r = read_turn(message, newest_year=2016)
    assert r.years is None and r.relative_years == relative


def test_a_negated_age_is_no_phrase_the_bot_cannot_rule_out():
    r = read_turn("a comedy, nothing too old", newest_year=2016)
    assert r.unused == () and r.wanted_genres == ("comedy",)


def test_resolve_relative_and_years_contains():
    assert resolve_relative("older", [2001]) == Years(None, 2000)
    assert resolve_relative("newer", [1990, 1995]) == Years(1996, None)
    assert resolve_relative("older", []) == Years(None, 1979)
    assert resolve_relative("newer", []) is None
    assert Years(2001, None).contains(2001) and not Years(2001, None).contains(2000)
    assert not Years(None, 1990).contains(None) and Years().contains(None)
    with pytest.raises(ValueError):
        Years(2000, 1990)


def test_read_turn_leaves_no_text_for_a_pure_constraint():
    """A turn that only rules something out or limits years adds nothing for the encoder
    to read (it used to read "not animated" and find Re-Animator)."""
    for message in ("not animated", "no aliens please", "after 2000", "something more recent, after 2000",
                    "not horror though"):
        assert read_turn(message).text == "", message
    assert read_turn("80s action movies").text == "action movies"
    for chat in ("Thank you for the recommendations", "I think I've seen it but it's been a while", "Hello!",
                 "Good morning. How are you today?"):
        assert read_turn(chat).text == "", chat  # chit-chat does not dilute the request


def test_narrow_cues_rule_out_title_words_not_genres():
    r = read_turn("no aliens please")
    assert r.banned_genres == () and r.banned_words == ("aliens", "alien")
    assert read_turn("no cartoons").banned_genres == ("animation",)
    assert read_turn("a space movie").wanted_genres == ("sci-fi",)  # asking still asks for the genre


@pytest.mark.parametrize("message, genre", [
    ("a feel-good movie to watch with my parents", "comedy"), ("something uplifting", "comedy"),
    ("I need something to cheer me up", "comedy"), ("a cozy film for a rainy day", "comedy"),
    ("a sad movie", "drama"), ("a real tearjerker", "drama")])
def test_moods_ask_for_the_genre_they_mean_on_screen(message, genre):
    assert read_turn(message).wanted_genres == (genre,)


def test_ruling_out_a_mood_rules_out_no_genre_and_no_title_word_and_is_said():
    r = read_turn("nothing too sad, a comedy")
    assert r.wanted_genres == ("comedy",) and r.banned_genres == () and r.banned_words == ()
    assert r.unused == ("too sad",)


def test_moods_are_no_genre_words_for_books():
    books = GenreVocabulary.of({"Comedy", "Drama"}, BOOK)
    assert read_turn("an uplifting novel", books).wanted_genres == ()


def test_read_turn_only_reports_catalog_genres():
    r = read_turn("a western with cowboys", GenreVocabulary.of({"Drama"}))
    assert r.wanted_genres == () and r.cues == {}


def test_two_turns_follow_the_conversation_without_repeats():
    bot = tiny_bot(k=3)
    s = bot.new_session("s1")
    t1 = bot.respond("funny cartoon for kids", s)
    first = [it.recommendation.item.item_id for it in t1.items]
    assert len(first) == 3 and all(bot.catalog.row(i) < 6 for i in first)  # the kids group
    t2 = bot.respond("now a dark crime thriller, no cartoons", t1.session)
    second = [it.recommendation.item for it in t2.items]
    assert not set(first) & {i.item_id for i in second}
    assert all("Animation" not in i.genres for i in second)
    assert all(bot.catalog.row(i.item_id) >= 6 for i in second[:2])  # the dark group leads
    assert t2.session.turns == ("funny cartoon for kids", "now a dark crime thriller, no cartoons")
    assert set(t2.session.shown_ids) == set(first) | {i.item_id for i in second}


def test_reasons_state_only_true_things():
    bot = tiny_bot(k=4)
    turn = bot.respond("funny cartoon for kids", bot.new_session("s"))
    for it in turn.items:
        item = it.recommendation.item
        assert it.reason
        # every genre named in the reason is one of the item's genres
        for g in ("Comedy", "Animation", "Children"):
            if f"{g} (" in it.reason:
                assert g in item.genres
        if "popular:" in it.reason:
            assert f"{it.recommendation.popularity_count} ratings" in it.reason


def test_likes_bring_in_cf_evidence():
    bot = tiny_bot(k=3, alpha=0.5)
    s = bot.new_session("s")
    from dataclasses import replace

    s = replace(s, liked_ids=("m6",))  # a dark movie liked earlier
    turn = bot.respond("something to watch tonight", s)
    recs = [it.recommendation for it in turn.items]
    assert all(r.item.item_id != "m6" for r in recs)  # a liked item is not re-recommended
    top = recs[0]
    assert bot.catalog.row(top.item.item_id) >= 6 and top.cf_source == "history"
    assert top.evidence is not None and top.evidence.item_id == "m6"
    assert "Midnight Heist (1990), which you liked" in turn.items[0].reason


def test_known_user_history_and_unknown_user():
    bot = tiny_bot(k=2, alpha=0.2)
    s = bot.new_session("s", user_id="u5")  # u5 rated only the dark group
    turn = bot.respond("a movie", s)
    assert all(bot.catalog.row(it.recommendation.item.item_id) >= 6 for it in turn.items)
    assert "highly, as you did" in turn.items[0].reason
    with pytest.raises(BadInput, match="unknown user id 'nobody'"):
        bot.new_session("s", user_id="nobody")


def test_empty_message_is_bad_input():
    bot = tiny_bot()
    with pytest.raises(BadInput, match="what you would like"):
        bot.respond("   ", bot.new_session("s"))


def test_catalog_exhausted_says_so():
    bot = tiny_bot(k=5)
    s = bot.new_session("s")
    for message in ("funny movies", "more movies", "more movies"):
        turn = bot.respond(message, s)
        s = turn.session
    assert len(s.shown_ids) == 12 and turn.items  # 5 + 5 + last 2
    turn = bot.respond("more", s)
    assert not turn.items and "nothing new" in turn.reply


def test_escape_makes_markup_inert():
    assert escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape("**bold** _it_ [x](y)") == r"\*\*bold\*\* \_it\_ \[x\](y)"


def test_a_numeric_limit_fills_a_short_list_with_items_that_lack_the_number():
    """"under 2 hours" and "after 2005" on MovieLens found nothing (its runtimes stop in
    2005): items known to fit come first, then the best without the number, each saying so."""
    bot = tiny_bot(k=5, alpha=0.5)
    turn = bot.respond("a crime movie under 2 hours from before 1992", bot.new_session("s"))
    # m6 (1990) runs 125 min: known not to fit, never listed; m11 (1989) has no runtime
    assert [(it.recommendation.rank, it.recommendation.item.item_id) for it in turn.items] == [(1, "m7"), (2, "m11")]
    assert "runs 110 min" in turn.items[0].reason
    assert "no runtime in my data, so I can't promise at most 120 min" in turn.items[1].reason
    assert turn.session.shown_ids == ("m7", "m11")
    full = bot.respond("a thriller under 2 hours", bot.new_session("t"))
    assert len(full.items) == 5 and "m11" not in [it.recommendation.item.item_id for it in full.items]


@pytest.mark.parametrize("message, low, high", [
    ("a short horror movie", None, 90.0),  # words between the size and the kind
    ("a long epic war film", 120.0, None),
    ("something short and funny", None, 90.0),
    ("I only have 90 minutes", None, 90.0),
    ("I've got an hour and a half", None, 90.0),
    ("as long as the movie is good", None, None),  # no length asked for
    ("how long is the film", None, None),
    ("long story short, a movie", None, None),
    ("I have, not too long ago. I loved that movie!", None, None),  # a time, not a length
    ("something longer than 150 minutes", 150.0, None),  # read once, by the number
    ("something short and funny, I only have 80 minutes", None, 80.0),  # the number says how short
])
def test_length_words_read_as_limits(message, low, high):
    from bot.conversation.facetread import read_numbers

    out, lacking = read_numbers(message, {"runtime": "min"}, {"runtime": (90.0, 120.0)},
                                frozenset({"movie", "movies", "film", "films"}))
    assert [(f.low, f.high) for _, _, f in out] == ([] if low is None and high is None else [(low, high)])
    assert not lacking


@pytest.mark.parametrize("message", ["thanks a lot", "cheers mate", "ok thanks, that works", "great, thanks!"])
def test_thanks_after_a_list_is_not_a_new_request(message):
    bot = tiny_bot()
    session = bot.respond("a comedy", bot.new_session("s")).session
    turn = bot.respond(message, session)
    assert turn.reply.startswith("You're welcome!") and not turn.items
