"""How a pick and the greeting read (bot/service/cards.py), and the list a 👍 / 👎 brings at once
(ChatService.refresh): plain strings and records, no browser."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.service.cards import card_html, chat_list, facet_line, greeting, reply_in_chat, reply_lead
from bot.conversation.examples import example_requests
from bot.conversation.chat import BadInput
from bot.service.logbook import Logbook
from bot.service.chatservice import ChatService
from bot.service.study import Arm, StudyConfig
from retrieval.facets import BOOK, MOVIE, Facets
from retrieval.records import Catalog, Item
from tests.conftest import make_catalog
from tests.helpers import tiny_bot

PRESTIGE = Facets(people={"director": ("Christopher Nolan",),
                          "cast": ("Christian Bale", "Hugh Jackman", "Michael Caine", "Scarlett Johansson")},
                  numbers={"runtime": 130.0}, categories={"mpaa": ("PG-13",)})


def test_facet_line_reads_people_numbers_with_units_then_categories():
    assert facet_line(PRESTIGE) == ("Christopher Nolan · Christian Bale, Hugh Jackman, Michael Caine"
                                    " · 130 min · PG-13")
    assert facet_line(Facets(numbers={"pages": 320.0, "weight": 1.5}), {"weight": "kg"}) == "320 pages · 1.5 kg"
    assert facet_line(Facets(numbers={"avg_rating": 4.25})) == "avg rating 4.25"  # no unit: named
    assert facet_line(Facets()) == ""


def test_card_escapes_catalog_text_and_leaves_out_what_the_item_lacks():
    item = Item("x", "<b>Heat</b> & Co", "text", 1995, ("Crime",), facets=PRESTIGE)
    html = card_html(item, 2, "matches 'crime'", {})
    assert "&lt;b&gt;Heat&lt;/b&gt; &amp; Co" in html and "<b>" not in html
    assert '<span class="pick-rank">2.</span>' in html and "(1995)" in html
    assert "130 min · PG-13" in html and "Crime" in html and "matches &#x27;crime&#x27;" in html
    bare = card_html(Item("y", "Untitled", "text"), 1, "", {})
    assert "pick-facets" not in bare and "pick-genres" not in bare and "pick-reason" not in bare
    assert "pick-year" not in bare and "pick-about" not in bare


def test_a_card_shows_the_start_of_the_description_and_no_topic_list():
    words = " ".join(f"w{i}" for i in range(40))
    facets = Facets(PRESTIGE.people, PRESTIGE.numbers, {**PRESTIGE.categories, "topic": ("magic", "rivalry")})
    html = card_html(Item("x", "The Prestige", "text", 2006, facets=facets, fields={"description": words + " <i>"}), 1, "", {})
    assert '<div class="pick-about">w0 w1' in html and "w29 ...</div>" in html and "w30" not in html
    assert "magic" not in html  # topics are what the card's reasons cite, not a line of their own


def test_greeting_speaks_the_catalogs_kind():
    movies = replace(make_catalog(), kind=MOVIE)
    books = Catalog("shelf", tuple(replace(it, genres=("Fantasy",) if i % 2 else ("Romance",))
                                   for i, it in enumerate(make_catalog().items)), kind=BOOK)
    hello_movies = greeting(movies, example_requests(movies))
    assert "What would you like to watch?" in hello_movies and "movies" in hello_movies
    examples = example_requests(books, popular_row=3)
    assert len(examples) == 3 and "I loved Toy Parade, more books like that" in examples
    assert "Books with Dee Vance" in examples  # every person has 2 credits here: ties go to the last name
    hello_books = greeting(books, examples)
    assert "What would you like to read?" in hello_books
    assert not {"movie", "movies", "film", "watch"} & set(hello_books.lower().replace(",", " ").split())


def test_example_requests_skip_what_the_catalog_lacks():
    plain = Catalog("plain", (Item("a", "Alpha", "alpha"),))
    assert example_requests(plain) == ("I loved Alpha, more items like that",)
    assert example_requests(Catalog("empty", ())) == ()


def test_reply_lead_drops_the_numbered_list_only():
    reply = "Noted: you like Heat (1995).\nHere are 2 picks:\n1. **Ronin**  \n   _why_\n2. **Thief**  \n   _why_"
    assert reply_lead(reply, 1) == "Noted: you like Heat (1995).\nHere are 2 picks:"
    assert reply_lead(reply, None) == reply
    assert reply_lead("Some other wording of the list", 1) == "Some other wording of the list"
    assert reply_lead("1. **Ronin**", 1) == "1. **Ronin**"  # nothing before the list: keep it all


def test_a_reply_in_the_chat_keeps_its_list_compactly_and_escaped():
    """The chat history's copy of a reply: the lead, then one line per pick (rank, title,
    year, reason; no facets or genres), catalog text Markdown-inert as in the bot's replies."""
    ronin = Item("r", "Ronin", "ronin", 1998, ("Action",), facets=PRESTIGE)
    odd = Item("o", "Heat *uncut* <b>", "heat", 1995)
    picks = [(1, ronin, "Like Heat (1995)"), (2, odd, "")]
    assert chat_list(picks) == ("1. **Ronin (1998)** — _Like Heat (1995)_\n"
                                "2. **Heat \\*uncut\\* &lt;b&gt; (1995)**")
    reply = ("Noted: you like Heat (1995).\nHere are 2 picks:\n1. **Ronin (1998)** · Action  \n"
             "   Christopher Nolan  \n   _Like Heat (1995)_\n2. **Heat \\*uncut\\* &lt;b&gt; (1995)**")
    assert reply_in_chat(reply, picks) == "Noted: you like Heat (1995).\nHere are 2 picks:\n" + chat_list(picks)
    assert reply_in_chat(reply, []) == reply  # no picks: the reply as it is
    assert reply_in_chat("Some other wording", picks) == "Some other wording"  # no list found: never cut or doubled


def test_refresh_after_feedback_brings_a_new_list_and_logs_it(tmp_path):
    book = Logbook(tmp_path / "log.sqlite")
    service = ChatService(tiny_bot(k=3), book)
    session = service.start("s1")
    with pytest.raises(BadInput, match="nothing|no list"):
        service.refresh(session)
    turn, first = service.turn(session, "funny cartoon for kids")
    liked = turn.session.last_ids[1]
    session = service.feedback(turn.session, liked, "like")
    again, second = service.refresh(session, cause={"item_id": liked, "kind": "like"})
    assert second and not {i["item_id"] for i in first} & {i["item_id"] for i in second}
    assert again.session.liked_ids == (liked,) and len(again.session.turns) == 1
    assert again.session.last_ids == tuple(i["item_id"] for i in second)
    (logged,) = book.sessions()
    assert len(logged["turns"]) == 1  # a refresh is not a message
    (event,) = [e for e in logged["events"] if e["kind"] == "refresh"]
    assert event["detail"]["item_id"] == liked and event["detail"]["turn_index"] == 0
    assert [i["item_id"] for i in event["detail"]["items"]] == list(again.session.last_ids)


def test_refresh_keeps_the_study_arm(tmp_path):
    book = Logbook(tmp_path / "study.sqlite")
    study = StudyConfig(arms=(Arm("words", alpha=1.0),), seed=1, consent_text=None)
    service = ChatService(tiny_bot(k=3), book, study)
    session = service.start("s1", participant_id="p-1")
    turn, _ = service.turn(session, "dark crime thriller", alpha=0.0)
    again, items = service.refresh(service.feedback(turn.session, turn.session.last_ids[0], "dislike"), alpha=0.0)
    assert items and all(i["parts"]["cf"] == 0 for i in items)  # the arm's α = 1.0 wins over 0.0


def test_the_reply_counts_its_picks_in_words():
    """'Here are 1 new picks' read wrong when one item was left after the filters."""
    from bot.conversation.render import picks

    assert picks(1) == "Here is 1 pick" and picks(1, new=True) == "Here is 1 new pick"
    assert picks(3) == "Here are 3 picks" and picks(10, new=True) == "Here are 10 new picks"
