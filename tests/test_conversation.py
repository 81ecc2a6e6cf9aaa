"""Scripted conversations through `Bot.respond`: titles with typos, negation, list
references, dislikes with their near-duplicates, paging without repeats, edits."""

from __future__ import annotations

import numpy as np
import pytest

from bot.conversation.chat import BadInput
from bot.conversation.state import Session
from bot.conversation.linking import TitleLinker, list_references
from tests.conftest import make_catalog
from retrieval.titles import normalise_title
from tests.helpers import tiny_bot


def ids(turn):
    return [it.recommendation.item.item_id for it in turn.items]


def test_normalise_title():
    assert normalise_title("Matrix, The (1999)") == "the matrix"
    assert normalise_title("Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == "amelie"
    # non-ASCII signs split words as their ASCII twins do
    assert normalise_title("WALL·E") == normalise_title("WALL-E") == "wall e"
    assert normalise_title("Don’t Look Now") == normalise_title("Don't Look Now") == "don t look now"


def test_linker_typos_case_year_and_plain_words():
    cat = make_catalog()
    linker = TitleLinker(cat, prior=np.arange(len(cat), dtype=float))
    found = linker.find("I loved midnight hiest, and Dark Alley 1991 too")
    assert [m.item_id for m in found] == ["m6", "m7"]
    assert found[1].surface == "Dark Alley 1991"
    assert linker.find("a cold case of the giggles") == []  # lower case, no cue: plain words
    assert [m.item_id for m in linker.find("i watched cold case twice")] == ["m11"]  # cued
    assert [m.item_id for m in linker.find("something like Toy parade")] == ["m3"]  # capitalised


def test_linker_lone_lowercase_word_is_not_a_title():
    from retrieval.records import Catalog, Item

    cat = Catalog("c", (Item("k", "Kids", "Kids (1995).", 1995), Item("h", "Heat", "Heat (1995).", 1995)))
    linker = TitleLinker(cat)
    assert linker.find("a movie for kids") == []
    assert [m.item_id for m in linker.find("I liked Heat")] == ["h"]
    assert [m.item_id for m in linker.find('something like "kids"')] == ["k"]


def test_linker_lower_case_list_of_titles():
    from retrieval.records import Catalog, Item

    cat = Catalog("c", (Item("dk", "Dark Knight, The", "The Dark Knight (2008).", 2008),
                        Item("in", "Inception", "Inception (2010).", 2010), Item("mo", "More", "More (1998).", 1998)))
    linker = TitleLinker(cat)
    assert [m.item_id for m in linker.find("i loved the dark knight and inception")] == ["dk", "in"]
    assert [m.item_id for m in linker.find("i loved the dark knight, inception")] == ["dk", "in"]
    assert [m.item_id for m in linker.find("i loved the dark knight and more")] == ["dk"]
    assert linker.find("an inception story") == []


def test_title_words_ask_for_nothing():
    bot = tiny_bot(k=3)
    r = bot.read("I loved Dark Alley", bot.new_session("s"))  # 'dark' is in the title, not a request
    assert r.liked_ids == ("m7",) and r.wanted_genres == () and r.text == ""


def test_years_filter_the_list_and_show_in_reply_and_reasons():
    bot = tiny_bot(k=3)
    t = bot.respond("a dark crime thriller before 1991", bot.new_session("s"))
    assert set(ids(t)) == {"m6", "m11"}  # only Midnight Heist (1990) and Cold Case (1989) fit
    assert "Years: 1990 or earlier." in t.reply
    assert all("within the years you asked for (1990 or earlier)" in it.reason for it in t.items)
    t2 = bot.respond("any year is fine", t.session)
    assert t2.session.years is None and len(ids(t2)) == 3


def test_older_than_a_named_title_or_the_last_list():
    bot = tiny_bot(k=3)
    t = bot.respond("something like Toy Parade but older", bot.new_session("s"))
    assert t.session.liked_ids == ("m3",) and t.session.years.last == 1997  # Toy Parade is 1998
    assert ids(t) and all(it.recommendation.item.year <= 1997 for it in t.items)
    t1 = bot.respond("funny cartoon for kids", bot.new_session("s2"))
    shown = sorted(it.recommendation.item.year for it in t1.items)
    t2 = bot.respond("something older", t1.session)
    assert t2.session.years.last == shown[len(shown) // 2] - 1


def test_a_refinement_turn_keeps_the_request():
    """"not animated" rules animation out and leaves the words of the earlier turn as the
    whole text query (it used to become the query itself)."""
    bot = tiny_bot(k=3)
    t1 = bot.respond("funny cartoon for kids", bot.new_session("s"))
    t2 = bot.respond("not animated", t1.session)
    assert t2.session.banned_genres == ("animation",)
    # the earlier turn is the whole text query, less the genre now ruled out
    assert bot.query(t2.session).texts == ("funny cartoon for kids. Genres: Comedy, Children.",)
    assert ids(t2)[0] == "m4"  # Family Picnic: the kids comedy without animation


def test_list_references():
    assert [p for p, _ in list_references("more like #2", 5)] == [2]
    assert [p for p, _ in list_references("not the first one", 5)] == [1]
    assert sorted(p for p, _ in list_references("2 and 4 were good", 5)) == [2, 4]
    assert [p for p, _ in list_references("the last one", 3)] == [3]
    assert list_references("#9", 3) == []  # no such position


def test_titles_become_likes_and_dislikes():
    bot = tiny_bot(k=3)
    turn = bot.respond("I loved Midnight Hiest but I hated Haunted House", bot.new_session("s"))
    assert turn.session.liked_ids == ("m6",) and turn.session.disliked_ids == ("m10",)
    assert "Noted: you like Midnight Heist (1990); not Haunted House (1994)." in turn.reply
    assert not {"m6", "m10"} & set(ids(turn))  # named items are not recommended back
    assert bot.catalog.row(ids(turn)[0]) >= 6  # the liked dark movie steers the list


def test_more_like_number_two_and_not_the_first():
    bot = tiny_bot(k=3)
    t1 = bot.respond("funny cartoon for kids", bot.new_session("s"))
    second, first = t1.session.last_ids[1], t1.session.last_ids[0]
    t2 = bot.respond("more like #2, not the first one", t1.session)
    assert second in t2.session.liked_ids and first in t2.session.disliked_ids
    assert not set(ids(t2)) & set(ids(t1))


def test_dislike_drops_item_and_near_duplicates():
    bot = tiny_bot(k=12)
    dupes = bot.near_duplicates(("m0",))
    v = bot.recommender.retriever.item_vectors
    expected = {bot.catalog.items[r].item_id for r in np.nonzero(v @ v[0] >= bot.config.near_duplicate)[0]} - {"m0"}
    assert set(dupes) == expected
    s = bot.feedback(bot.new_session("s"), disliked=("m0",))
    turn = bot.respond("cartoon kittens", s)
    assert "m0" not in ids(turn) and not set(dupes) & set(ids(turn))


def test_sequels_are_near_duplicates():
    from bot.conversation.chat import Bot
    from fusion.cf import ItemKNN
    from fusion.recommender import Recommender
    from retrieval.encoder import HashingEncoder
    from retrieval.records import Catalog, Item
    from retrieval.retriever import Retriever
    from tests.conftest import make_checkerboard

    base = make_catalog()
    items = base.items + (Item("s2", "Midnight Heist 2", "Midnight Heist 2 (1995).", 1995),
                          Item("s3", "Midnight Heist Returns Home", "Returns.", 1996))
    cat = Catalog("tiny+", items)
    bot = Bot(Recommender(Retriever.build(cat, HashingEncoder()), ItemKNN.fit(make_checkerboard(base), len(cat))))
    bot.config = type(bot.config)(near_duplicate=1.01)  # title rule only
    assert bot.near_duplicates(("m6",)) == ("s2",)


def test_show_me_more_pages_without_repeats():
    bot = tiny_bot(k=4)
    t1 = bot.respond("dark crime thriller", bot.new_session("s"))
    t2 = bot.respond("show me more", t1.session)
    t3 = bot.respond("something else", t2.session)
    assert t2.session.readings[-1].paging and t2.session.readings[-1].text == ""
    shown = ids(t1) + ids(t2) + ids(t3)
    assert len(shown) == 12 and len(set(shown)) == 12
    # paging keeps the request: the dark group still comes first in the second page
    assert sum(bot.catalog.row(i) >= 6 for i in ids(t1) + ids(t2)[:2]) == 6


def test_edit_replaces_what_was_understood():
    bot = tiny_bot(k=3)
    t = bot.respond("I loved Midnight Heist, no horror", bot.new_session("s"))
    assert t.session.banned_genres == ("horror",)
    s = bot.edit(t.session, liked=(), disliked=("m6",), banned_genres=("Crime",))
    assert s.liked_ids == () and s.disliked_ids == ("m6",) and s.banned_genres == ("crime",)
    turn = bot.recommend(s)
    assert all("Crime" not in it.recommendation.item.genres for it in turn.items)
    with pytest.raises(BadInput, match="unknown genre"):
        bot.edit(s, (), (), ("Telenovela",))
    with pytest.raises(BadInput, match="unknown item id"):
        bot.feedback(s, liked=("nope",))
    assert "**Disliked:** Midnight Heist (1990)" in bot.summary(s)


def test_catalog_text_with_markup_is_shown_as_text():
    from bot.conversation.chat import Bot, BotConfig
    from fusion.cf import ItemKNN
    from fusion.recommender import Recommender
    from retrieval.encoder import HashingEncoder
    from retrieval.records import Catalog, Interactions, Item
    from retrieval.retriever import Retriever

    evil = Item("x", "<script>alert(1)</script> **Bold** [link](http://x)", "script alert bold link", None, ("Drama",))
    cat = Catalog("evil", (evil, Item("y", "Plain", "plain words", None, ("Drama",))))
    inter = Interactions(np.array(["u"], dtype=object), np.array([0]), np.array([1.0], np.float32), np.array([0]))
    bot = Bot(Recommender(Retriever.build(cat, HashingEncoder()), ItemKNN.fit(inter, 2)), BotConfig(k=2))
    reply = bot.respond("script alert <b>bold</b>", bot.new_session("s")).reply
    assert "<script>" not in reply and "&lt;script&gt;" in reply
    assert r"\*\*Bold\*\*" in reply and r"\[link\]" in reply


def test_ruled_out_title_words_are_shown_and_applied():
    bot = tiny_bot(k=12)
    t = bot.respond("a dark crime thriller, no mafia", bot.new_session("s"))
    assert t.session.banned_words == ("mafia",) and t.session.banned_genres == ()
    assert "Leaving out: titles with 'mafia'." in t.reply and "m9" not in ids(t)  # Mafia Night
    assert "Crime" in bot.catalog.items[bot.catalog.row(ids(t)[0])].genres  # crime is still welcome
    assert "titles with 'mafia'" in bot.summary(t.session)


def test_earlier_turns_keep_their_weight_until_a_new_request():
    from bot.conversation.understand import is_switch

    assert is_switch("now something darker") and is_switch("How about a western?") and is_switch("ok, actually a comedy")
    assert not is_switch("whos in it?") and not is_switch("I know how about it")
    bot = tiny_bot(k=3)
    s = bot.new_session("s")
    for message in ("funny cartoon for kids", "with puppies", "now a dark crime thriller"):
        s = bot.listen(message, s)
    # chat does not fade the request (recency_decay 1.0); "now ..." does (switch_decay 0.3)
    assert bot.query(s).text_weights == (0.3, 0.3, 1.0)


def test_linker_on_titles_as_people_type_them():
    """Cases from ReDial seekers' messages that the linker used to get wrong."""
    from retrieval.records import Catalog, Item

    rows = [("tt", "Lord of the Rings: The Two Towers, The", 2002), ("lr", "Lord of the Rings, The", 1978),
            ("dd", "Dumb & Dumber (Dumb and Dumber)", 1994), ("d2", "Dumb and Dumber To", 2014),
            ("it", "It", 1990), ("pa", "Paul", 2011), ("go", "Go", 1999), ("li", "Life", 1999), ("he", "Heat", 1995)]
    linker = TitleLinker(Catalog("c", tuple(Item(i, t, f"{t} ({y}).", y) for i, t, y in rows)))

    def found(message):
        return [m.item_id for m in linker.find(message)]

    assert found("or The Lord of the Rings: The Two Towers (2002)") == ["tt"]  # a colon is part of a title
    assert found("there are always classics like Dumb and Dumber (1994)") == ["dd"]  # & = and
    assert found("I've never seen It (2017)") == []  # that year's It is another film
    assert found("like Mac & Devin Go to High School (2012) and Paul Blart: Mall Cop (2009)") == []
    assert found("did you like A Beautiful Life (2008) ?") == []  # part of a longer name
    assert found('I liked "Life" a lot') == ["li"] and found("I liked Heat and Paul") == ["he", "pa"]


def test_series_mentions_link_every_film_of_the_series():
    from bot.conversation.linking import series_prefixes
    from retrieval.records import Catalog, Item

    assert series_prefixes("Harry Potter and the Goblet of Fire") == ["harry potter"]
    assert series_prefixes("Lord of the Rings: The Two Towers, The") == ["the lord of the rings", "lord of the rings"]
    assert series_prefixes("Rocky III") == ["rocky"] and series_prefixes("Rocky Horror Picture Show, The") == []
    rows = [("h1", "Harry Potter and the Chamber of Secrets", 2002), ("h2", "Harry Potter and the Goblet of Fire", 2005),
            ("r1", "Rocky", 1976), ("r2", "Rocky II", 1979), ("rh", "Rocky Horror Picture Show, The", 1975),
            ("t1", "Toy Story", 1995), ("t2", "Toy Story 2", 1999),
            ("n1", "New York Stories", 1989), ("n2", "New York Minute", 2004)]
    linker = TitleLinker(Catalog("c", tuple(Item(i, t, f"{t} ({y}).", y) for i, t, y in rows)),
                         prior=np.arange(len(rows), dtype=float))

    def found(message):
        return sorted(m.item_id for m in linker.find(message))

    assert found("I've seen all the Harry Potter films, what else?") == ["h1", "h2"]
    assert found("I like the Rocky movies") == ["r1", "r2"]  # not The Rocky Horror Picture Show
    assert found("I loved Toy Story") == ["t1"]  # a title is the film itself
    assert found("a comedy set in New York") == [] and found("Well Harry Potter is a classic") == []


def test_noted_line_names_a_few_and_counts_the_rest():
    bot = tiny_bot(k=5)
    t1 = bot.respond("funny cartoon for kids", bot.new_session("s"))
    t2 = bot.respond("#1, #2, #3 and #4 were good", t1.session)
    assert len(t2.session.liked_ids) == 4
    noted = next(line for line in t2.reply.splitlines() if line.startswith("Noted:"))
    assert noted.count("you like") == 3 and "and 1 more (see the summary)." in noted and noted.endswith("undo' to take it back.")


def test_a_named_title_anchors_the_query_without_encoding_it():
    """'more like X' puts X's catalog vector in the query (Query.anchor_ids), not a text
    of its title to encode: only the person's own words are encoded."""
    bot = tiny_bot(k=3)
    s = bot.listen("funny cartoon for kids", bot.new_session("s"))
    s = bot.listen("I loved Dark Alley", s)
    query = bot.query(s)
    assert query.anchor_ids == ("m7",) and len(query.anchor_weights) == 1
    assert len(query.texts) == 1 and query.texts[0].startswith("funny cartoon for kids. Genres:")
    calls = []
    encoder = bot.recommender.retriever.encoder
    real = encoder.encode
    encoder.encode = lambda texts, *a, **k: (calls.append(list(texts)), real(texts, *a, **k))[1]
    try:
        turn = bot.respond("more like Dark Alley", bot.new_session("t"))
    finally:
        encoder.encode = real
    assert calls == [] and ids(turn) and "m7" not in ids(turn)


def test_a_turn_passes_the_stages_in_order(capsys):
    """One message, traced: read -> update -> decide -> rank -> reasons -> reply, each stage
    once, and the reader is the only stage that sees the message's text."""
    import sys

    from bot.conversation import chat, reading, render

    bot = tiny_bot()
    session = bot.respond("a dark crime thriller", bot.new_session("s")).session
    stages = {chat.Bot.read, reading.Reader.read, chat.Bot.update, chat.Bot.decide, chat.Bot.rank,
              chat.Bot.reasons, render.render}
    codes = {f.__code__: f"{f.__module__.split('.')[-1]}.{f.__qualname__}" for f in stages}
    calls: list[str] = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            calls.append(codes[frame.f_code])
    sys.setprofile(profile)
    try:
        bot.respond("not that one, something funnier from the 90s", session)
    finally:
        sys.setprofile(None)
    print(" -> ".join(calls))
    assert calls == ["chat.Bot.read", "reading.Reader.read", "chat.Bot.update", "chat.Bot.decide", "chat.Bot.rank",
                     "chat.Bot.reasons", "render.render"]
    assert "chat.Bot.read -> reading.Reader.read -> chat.Bot.update" in capsys.readouterr().out


def test_a_question_after_a_verdict_on_a_listed_item_is_about_that_item():
    """"the second one looks good. how long is it?": the like is noted and the question answered
    about #2, not about the item named last or the top of the list."""
    bot = tiny_bot(k=3)
    s = bot.respond("a funny cartoon", Session("s")).session
    second = s.last_ids[1]
    answer = bot.respond("the second one looks good. how long is it?", s)
    item = bot.catalog.items[bot.catalog.row(second)]
    assert answer.reply == f"{item.display_label()} runs {int(item.facets.numbers['runtime'])} min."
    assert second in answer.session.liked_ids and answer.items == ()
    assert answer.session.readings[-1].act == "question" and answer.session.readings[-1].asked_facet == "length"
