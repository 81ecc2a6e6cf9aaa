"""Topics: what an item is about, read from the catalog's own topic facet, asked for and
ruled out in words, weighed in the ranking and cited in reasons (known answers on the tiny
catalog with topics added)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from bot.conversation.justify import quote_around, topic_claims
from bot.conversation.reading import Reader
from bot.conversation.state import Session, session_from_json, session_to_json
from bot.conversation.topics import TopicReader, singulars
from bot.service.chatservice import facets_json
from fusion.config import TOPIC_WEIGHT
from fusion.recommender import Recommender
from fusion.terms import Request, TopicTerm, request_terms
from retrieval.facets import TOPIC_FACET, Facets
from retrieval.records import Catalog
from tests.conftest import make_catalog
from tests.helpers import tiny_bot

# row -> topics; "kitten" is on one item only (no topic people ask for); "funny" names a
# whole genre (comedy), "night" is an everyday word (a cue needed)
TOPICS = {"m0": ("kitten", "funny"), "m1": ("dog", "puppy", "funny"), "m2": ("dog", "farm"),
          "m3": ("puppy",), "m6": ("heist", "bank", "night"), "m7": ("serial killer", "night"),
          "m8": ("serial killer", "ghost"), "m9": ("heist", "mafia"), "m10": ("ghost", "haunted house"),
          "m11": ("haunted house",)}
DESCRIPTIONS = {"m6": "A crew of four plans one last heist on the biggest bank in town before dawn.",
                "m10": "A family moves into an old house where the ghosts never sleep."}


def topic_catalog() -> Catalog:
    items = []
    for it in make_catalog().items:
        cats = {**it.facets.categories, **({TOPIC_FACET: TOPICS[it.item_id]} if it.item_id in TOPICS else {})}
        fields = {"description": DESCRIPTIONS[it.item_id]} if it.item_id in DESCRIPTIONS else {}
        items.append(replace(it, facets=Facets(it.facets.people, it.facets.numbers, cats), fields=fields))
    base = make_catalog()
    return Catalog(base.name, tuple(items), kind=base.kind)


def read(message: str, session: Session | None = None):
    return Reader(topic_catalog()).read(message, session or Session("s"))


def test_plural_forms_fold_to_the_catalog_spelling():
    assert singulars("dogs") == ("dogs", "dog")
    assert "zombie" in singulars("zombies") and "comedy" in singulars("comedies")
    assert singulars("boss") == ("boss",)
    assert "jam" not in singulars("james") and "box" in singulars("boxes")


def test_topics_come_from_the_catalog_and_need_two_items():
    reader = TopicReader(topic_catalog(), frozenset({"funny"}))
    assert set(reader.topics) == {"dog", "puppy", "heist", "night", "serial killer", "ghost", "haunted house"}
    assert reader.topics["dog"] == 2  # kitten (one item) and funny (a genre's word) are no topics


def test_a_request_names_its_topics_in_the_catalogs_spelling():
    assert read("a heist movie").topics == ("heist",)
    assert read("something with dogs").topics == ("dog",)
    assert read("haunted houses please").topics == ("haunted house",)
    assert read("serial killers and ghosts").topics == ("serial killer", "ghost")
    assert read("a funny movie").topics == ()  # comedy's word: the genre reader's
    assert read("a kitten movie").topics == ()  # one item's detail


def test_an_everyday_word_is_a_topic_only_after_a_cue():
    assert read("i watched one last night").topics == ()
    assert read("a movie about the night").topics == ("night",)
    assert read("a night movie").topics == ("night",)
    assert read("something about heists").topics == ("heist",)


def test_a_ruled_out_topic_is_a_filter_and_never_unused():
    r = read("no ghosts, something with a heist")
    assert r.topics == ("heist",)
    assert [(f.name, f.values, f.negate) for f in r.facet_filters] == [(TOPIC_FACET, ("ghost",), True)]
    assert r.unused == ()
    assert [(s.kind, s.value, s.polarity) for s in r.spans if s.kind == "topic"] == [
        ("topic", "ghost", "-"), ("topic", "heist", "+")]


def test_topics_ruled_out_add_up_and_undo_takes_a_topic_back():
    bot = tiny_bot(catalog=topic_catalog())
    s = bot.listen("no ghosts", Session("s"))
    s = bot.listen("nothing with serial killers either", s)
    assert {f.values for f in s.facet_filters} == {("ghost",), ("serial killer",)}
    s = bot.listen("a heist movie", s)
    assert s.wanted_topics() == ("heist",)
    s = bot.listen("forget the heist thing", s)
    assert s.wanted_topics() == ()


def test_the_topic_term_scores_the_share_of_topics_an_item_carries():
    catalog = topic_catalog()
    term = TopicTerm([frozenset(it.facets.categories.get(TOPIC_FACET, ())) for it in catalog.items])
    rows = np.arange(len(catalog))
    request = Request(np.zeros(4, np.float32), wanted_topics=("heist", "night"))
    scores = dict(zip([it.item_id for it in catalog.items], term.score(request, rows)))
    assert scores["m6"] == 1.0 and scores["m9"] == 0.5 and scores["m7"] == 0.5 and scores["m0"] == 0.0
    assert term.score(Request(np.zeros(4, np.float32), wanted_topics=("unknown",)), rows).sum() == 0


def test_a_topic_request_ranks_items_about_it_first_with_a_reason_that_cites_it():
    bot = tiny_bot(k=3, catalog=topic_catalog())
    rec = bot.recommender
    terms = request_terms(rec.catalog, rec.retriever.item_vectors)
    bot = type(bot)(Recommender(rec.retriever, rec.cf, rec.config.with_(weights={"topics": 1.0}), terms), bot.config)
    answer = bot.respond("a heist movie", Session("s"))
    top = [it.recommendation.item.item_id for it in answer.items]
    assert set(top[:2]) == {"m6", "m9"}
    reasons = {it.recommendation.item.item_id: it.reason for it in answer.items}
    assert reasons["m9"].startswith("About heist, as you asked")  # not also "Crime ('heist')"
    assert 'one last heist on the biggest bank' in reasons["m6"]  # its own description, quoted
    assert "about heist" in answer.reply  # "Noted: Crime; about heist"
    scary = bot.respond("no ghosts, something scary", Session("t"))
    assert not {"m8", "m10"} & {it.recommendation.item.item_id for it in scary.items}
    assert "can't rule out" not in scary.reply and "Leaving out: anything about ghost." in scary.reply
    assert "Only movies" not in scary.reply  # a topic left out is no limit to list


def test_quotes_come_from_the_description_around_the_topic():
    text = "one two three four five six seven eight nine ten eleven twelve heists thirteen fourteen"
    assert quote_around(text, "heist", words=4) == "...eleven twelve heists thirteen..."
    assert quote_around(text, "dog") == ""
    item = topic_catalog().items[10]  # m10: ghost in facet and description
    assert topic_claims(item, ("ghost",))[0].detail == DESCRIPTIONS["m10"]  # 12 words: quoted whole
    assert topic_claims(item, ("heist",)) == []  # neither in its topics nor in its description


def test_the_api_gives_an_items_topics_and_description():
    item = topic_catalog().items[6]
    f = facets_json(item, {"runtime": "min"})
    assert f["topics"] == ["heist", "bank", "night"] and f["description"].startswith("A crew of four")
    assert f["numbers"] == {"runtime": {"value": 125.0, "unit": "min"}} and "topic" not in f["categories"]


def test_topics_survive_the_stored_state():
    bot = tiny_bot(catalog=topic_catalog())
    s = bot.listen("a heist movie", Session("s"))
    assert session_from_json(session_to_json(s)) == s


def test_a_popular_title_ruled_out_in_lower_case_is_disliked_not_unused():
    prior = np.arange(12, dtype=float)  # m10 and m11 are the top tenth
    reader = Reader(topic_catalog(), prior)
    r = reader.read("not cold case please", Session("s"))
    assert r.disliked_ids == ("m11",) and r.unused == ()
    assert reader.read("no haunted house", Session("s")).disliked_ids == ("m10",)  # the film, over 2 items' topic
    assert reader.read("not dark alley", Session("s")).disliked_ids == ()  # not popular: no guess
    assert reader.read("no ghosts", Session("s")).disliked_ids == ()  # a topic, no title


def test_a_lower_case_surname_that_is_a_topic_is_the_topic():
    def catalog(kane_topic: bool) -> Catalog:
        items = []
        for it in topic_catalog().items:
            people = {**it.facets.people, "director": ("Bo Kane",)} if it.item_id in ("m6", "m7", "m8", "m9", "m10") \
                else it.facets.people  # a well-known surname: "no kane" is the person
            cats = dict(it.facets.categories)
            if kane_topic and it.item_id in ("m0", "m1"):
                cats[TOPIC_FACET] = cats.get(TOPIC_FACET, ()) + ("kane",)
            items.append(replace(it, facets=Facets(people, it.facets.numbers, cats)))
        return Catalog("kane", tuple(items), kind=topic_catalog().kind)

    def filters(message: str, kane_topic: bool):
        return [(f.kind, f.values) for f in Reader(catalog(kane_topic)).read(message, Session("s")).facet_filters]

    assert filters("no kane", kane_topic=False) == [("people", ("Bo Kane",))]
    assert filters("no kane", kane_topic=True) == [("cat", ("kane",))]
    assert filters("no Bo Kane", kane_topic=True) == [("people", ("Bo Kane",))]  # a full name is the person


def test_a_bookshop_with_shelves_answers_shelf_requests_in_book_words(tmp_path):
    """The books fixture with a `tags` column (shelves) and a `description` column, as a
    shop would export them: "a cozy mystery" and "epic fantasy" are shelves of several words;
    "no vampires" leaves the vampire shelf out; no film word reaches the reader."""
    import csv
    import shutil

    from tests.helpers import DATA, fixture_bot

    shelves = {"b20": "epic fantasy", "b35": "epic fantasy|quest", "b36": "epic fantasy|dragons",
               "b37": "epic fantasy", "b41": "cozy mystery|detective", "b56": "cozy mystery|monastery",
               "b06": "vampires|romance", "b07": "vampires", "b26": "vampires|ghosts", "b14": "ghosts"}
    folder = tmp_path / "books"
    shutil.copytree(DATA / "books", folder)
    with open(DATA / "books" / "books.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(folder / "books.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, [*rows[0], "tags", "description"])
        w.writeheader()
        for row in rows:
            desc = "A quiet village, a vicar and a murder nobody saw." if row["item_id"] == "b41" else ""
            w.writerow({**row, "tags": shelves.get(row["item_id"], ""), "description": desc})
    bot = fixture_bot(folder, k=4)
    rec = bot.recommender
    bot = type(bot)(Recommender(rec.retriever, rec.cf, rec.config.with_(weights={"topics": TOPIC_WEIGHT}),
                                request_terms(rec.catalog, rec.retriever.item_vectors)), bot.config)
    cozy = bot.respond("a cozy mystery please", Session("s"))
    assert {it.recommendation.item.item_id for it in cozy.items[:2]} == {"b41", "b56"}
    assert "about cozy mystery" in cozy.reply
    epic = bot.respond("epic fantasy", Session("t"))
    assert {it.recommendation.item.item_id for it in epic.items} == {"b20", "b35", "b36", "b37"}
    scary = bot.respond("something scary, no vampires", Session("u"))
    assert not {"b06", "b07", "b26"} & {it.recommendation.item.item_id for it in scary.items}
    for answer in (cozy, epic, scary):
        assert not re.search(r"\b(?:movies?|films?|watch)\b", answer.reply, re.IGNORECASE), answer.reply


def test_the_kind_of_item_is_no_part_of_a_topic_and_a_genre_shelf_keeps_its_head():
    catalog = topic_catalog()
    extra = {"m6": ("heist movie",), "m9": ("heist movie",), "m7": ("serial killer thriller",),
             "m8": ("serial killer thriller",)}
    items = tuple(replace(it, facets=Facets(it.facets.people, it.facets.numbers, {
        **it.facets.categories, TOPIC_FACET: it.facets.categories.get(TOPIC_FACET, ()) + extra.get(it.item_id, ())}))
        for it in catalog.items)
    reader = Reader(Catalog(catalog.name, items, kind=catalog.kind))
    assert reader.read("a heist movie", Session("s")).topics == ("heist",)
    assert reader.read("serial killer thrillers", Session("s")).topics == ("serial killer thriller", "serial killer")


# row -> topics: "boxer" tags half the items "boxing" does (one family); "box" tags none of
# them (another word of the same stem); "training" none of "train"'s
BOXING = [{"boxing"}, {"boxer", "boxing match"}, {"boxer"}, {"boxing match", "ring"}, {"female boxer"},
          {"box"}, {"reference to pandora's box"}, {"music box"}, {"boxcar"}, {"reference to a boxing match at night"},
          {"train"}, {"train station"}, {"training"}, set()]


def boxing_term() -> TopicTerm:
    return TopicTerm([frozenset(t) for t in BOXING])


def test_a_near_topic_earns_part_credit():
    from fusion.terms import NEAR_CREDIT, stem

    assert stem("boxing") == stem("boxer") == stem("box") == "box" and stem("heist") == "heist"
    scores = boxing_term().score(Request(np.zeros(4, np.float32), wanted_topics=("boxing",)), np.arange(len(BOXING)))
    near = NEAR_CREDIT
    # boxing, boxer (+ boxing match), boxer, boxing match, female boxer; not box, pandora's box,
    # music box, boxcar, nor a keyword 5 words longer than the topic
    assert scores.tolist() == [1.0, near, near, near, near, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def test_words_of_one_stem_are_one_family_only_where_the_catalog_tags_the_same_items_with_both():
    term = boxing_term()
    assert term.family("boxing") == {"boxing", "boxer"} and term.family("boxers") == {"boxing", "boxer"}
    assert term.family("box") == {"box"} and term.family("train") == {"train"}  # no item tagged with both
    assert term.near_topics("boxing") == {"boxer", "boxing match", "female boxer"}
    assert term.near_topics("train") == {"train station"}  # not "training"
    assert term.near_topics("box") == {"music box"}  # "reference to pandora's box": 3 words more, too long


def test_a_plural_is_the_same_word_and_a_near_topic_has_every_word_of_the_topic():
    from fusion.terms import singular

    assert singular("dogs") == "dog" and singular("boxes") == "box" and singular("stories") == "story"
    assert singular("boss") == "boss" and singular("zombies", {"zombie"}) == "zombie"
    assert singular("heroes", {"hero"}) == "hero" and singular("shoes") == "shoe"
    term = TopicTerm([frozenset(t) for t in ({"time travel"}, {"time travel", "time traveler"}, {"travel"},
                                             {"space travel"}, {"travel agent"}, {"zombies"}, {"zombie"},
                                             {"zombie"}, {"high school"}, {"school"}, {"high school reunion"})])
    assert term.near_topics("time travel") == {"time traveler"}  # not any travel
    assert term.near_topics("zombie") == {"zombies"}
    assert term.near_topics("high school") == {"high school reunion"}  # not "school"


def test_a_reason_names_the_near_topic_the_item_carries():
    item = replace(topic_catalog().items[7], facets=Facets(categories={TOPIC_FACET: ("reference to pandora's box",
                                                                                     "female boxer", "night")}))
    near = boxing_term().near_topics
    assert [(c.value, c.detail) for c in topic_claims(item, ("boxing",), near)] == [("female boxer", "")]
    assert topic_claims(item, ("heist",), near) == []
    stoner = replace(item, facets=Facets(categories={TOPIC_FACET: ("stoner", "reference to pandora's box")}))
    assert topic_claims(stoner, ("boxing",), near) == []  # a box inside an unrelated phrase is no boxing
    assert topic_claims(item, ("boxing",)) == []  # no judge of near topics: none named
    near = TopicTerm([frozenset({"boxing", "boxer"}), frozenset({"boxer shorts", "shadow boxing"})]).near_topics
    fighter = replace(item, facets=Facets(categories={TOPIC_FACET: ("boxer shorts", "shadow boxing", "boxer")}))
    assert [c.value for c in topic_claims(fighter, ("boxing",), near)] == ["shadow boxing"]  # the very word
    quoted = replace(fighter, fields={"description": "A washed-up boxer gets one more fight."})
    assert [(c.value, c.detail) for c in topic_claims(quoted, ("boxing",), near)] == [
        ("boxer", "A washed-up boxer gets one more fight.")]  # one its description quotes, first


def test_a_bot_names_near_topics_as_its_ranking_judged_them():
    catalog = topic_catalog()
    extra = {"m1": ("boxing",), "m2": ("boxing", "boxer"), "m3": ("boxer",), "m4": ("reference to pandora's box",)}
    items = tuple(replace(it, facets=Facets(it.facets.people, it.facets.numbers, {
        **it.facets.categories, TOPIC_FACET: it.facets.categories.get(TOPIC_FACET, ()) + extra.get(it.item_id, ())}))
        for it in catalog.items)
    bot = tiny_bot(k=12, catalog=Catalog(catalog.name, items, kind=catalog.kind))
    rec = bot.recommender
    bot = type(bot)(Recommender(rec.retriever, rec.cf, rec.config.with_(weights={"topics": TOPIC_WEIGHT}),
                                request_terms(rec.catalog, rec.retriever.item_vectors)), bot.config)
    answer = bot.respond("a movie about boxing", Session("s"))
    reasons = {it.recommendation.item.item_id: it.reason for it in answer.items}
    assert [it.recommendation.item.item_id for it in answer.items[:3]] == ["m2", "m1", "m3"]
    assert "about boxer" in reasons["m3"].lower() and "pandora" not in reasons["m4"]


def test_what_an_item_is_about_is_answered_from_its_description():
    bot = tiny_bot(catalog=topic_catalog())
    reply = bot.respond("what is midnight heist about?", Session("s")).reply
    assert reply.endswith(DESCRIPTIONS["m6"]) and reply.startswith("Midnight Heist (1990): Crime, Thriller")


def test_an_adjective_of_a_topic_names_it_and_is_never_unused():
    from bot.conversation.topics import bases

    assert "gore" in bases("gory") and "blood" in bases("bloody") and "violence" in bases("violent")
    assert "magic" in bases("magical") and "fun" not in bases("funny")  # "fun": too short to be a noun here
    gore = {"m8": ("gore",), "m10": ("gore", "ghost"), "m11": ("ghost",)}
    items = tuple(replace(it, facets=Facets(it.facets.people, it.facets.numbers,
                                             {**it.facets.categories, TOPIC_FACET: gore[it.item_id]}))
                  if it.item_id in gore else it for it in make_catalog().items)
    reader = Reader(Catalog("gore", items, kind=make_catalog().kind))
    r = reader.read("something scary but not too gory", Session("s"))
    assert [(f.name, f.values, f.negate) for f in r.facet_filters] == [(TOPIC_FACET, ("gore",), True)]
    assert r.unused == ()  # never "I can't rule out 'too gory'"
    assert reader.read("a gory one", Session("s")).topics == ("gore",)
    assert reader.read("something ghostly", Session("s")).topics == ()  # no ending of ADJECTIVE_ENDINGS
