"""The three pair builders (retrieval/pairs.py) on tiny data with a known right answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.loaders import DataError
from retrieval.records import LoggedSession
from retrieval.pairs import (Pair, dialogue_pairs, fingerprint, interaction_pairs, log_pairs,
                             metadata_pairs, pair_evidence, split_pair_users, split_pairs)
from retrieval.records import Catalog, Interactions
from retrieval.redial import parse_dialogue
from tests.test_redial import DIALOGUE, make_catalog


def test_dialogue_pairs() -> None:
    catalog = make_catalog()
    pairs = dialogue_pairs([parse_dialogue(DIALOGUE, catalog)])
    assert [p.item_id for p in pairs] == ["11", "10", "20"]
    assert pairs[0].query == "Seeker: hi, I loved Cartoon Kittens (1995)"
    assert pairs[2].query.startswith("Seeker: seen it")  # newest turn first
    # The seeker disliked "20" (mentioned before turn 3 only as a target): no negative for 20
    # itself; before the first turn nothing disliked was mentioned.
    assert all(p.negative_id is None for p in pairs)


def test_dialogue_pairs_hard_negative() -> None:
    catalog = make_catalog()
    rec = json.loads(json.dumps(DIALOGUE))
    rec["messages"].append({"messageId": 9, "text": "or @21", "senderWorkerId": 2})
    pairs = dialogue_pairs([parse_dialogue(rec, catalog)])
    assert pairs[-1] == Pair(pairs[-1].query, "21", "20")  # "20" was disliked and mentioned


def test_interaction_pairs_stay_in_taste_group(tiny_catalog, checkerboard) -> None:
    pairs = interaction_pairs(tiny_catalog, checkerboard, max_pairs=200, metadata_share=0.25, seed=1)
    assert len(pairs) == 200
    kids = {it.label() for it in tiny_catalog.items[:6]}
    taste = [p for p in pairs if p.query.split(" ")[0] in ("I", "My", "Something") and "(" in p.query]
    assert len(taste) == 150
    for p in taste:
        target_kids = tiny_catalog.row(p.item_id) < 6
        named = [label for label in (it.label() for it in tiny_catalog.items) if label in p.query]
        assert named and all((label in kids) == target_kids for label in named)
        assert p.item_id not in [it.item_id for it in tiny_catalog.items if it.label() in named]
        if p.negative_id is not None:  # a rating below the user's mean, same user -> same group
            assert (tiny_catalog.row(p.negative_id) < 6) == target_kids
    assert interaction_pairs(tiny_catalog, checkerboard, 200, seed=1) == pairs  # deterministic


def test_metadata_pairs_name_the_items_genres(tiny_catalog) -> None:
    import random

    for p in metadata_pairs(tiny_catalog, 50, random.Random(0)):
        item = tiny_catalog.items[tiny_catalog.row(p.item_id)]
        assert any(g.lower() in p.query for g in item.genres)


def test_log_pairs(tiny_catalog) -> None:
    # turn 0 "kids" showed m0 (liked); turn 1 "and something spooky" showed m10 (liked), m8 disliked
    s = LoggedSession("s1", ("kids", "and something spooky"), liked=(("m0", 0), ("m10", 1)), disliked=(("m8", 1),))
    assert log_pairs([s], tiny_catalog) == [Pair("kids", "m0", "m8"), Pair("kids and something spooky", "m10", "m8")]
    assert log_pairs([s], tiny_catalog, n_turns=1)[1] == Pair("and something spooky", "m10", "m8")
    # no dislike: no hard negative; a dislike alone makes no pair
    assert log_pairs([LoggedSession("s2", ("dark",), liked=(("m7", 0),)),
                      LoggedSession("s3", ("x",), disliked=(("m1", 0),))], tiny_catalog) == [Pair("dark", "m7")]
    with pytest.raises(DataError, match="another catalog"):
        log_pairs([LoggedSession("s4", ("x",), liked=(("nope", 0),))], tiny_catalog)


def test_split_and_fingerprint() -> None:
    pairs = [Pair(f"q{i}", str(i)) for i in range(100)]
    train, valid = split_pairs(pairs, valid_share=0.1, seed=0)
    assert len(valid) == 10 and len(train) == 90 and not set(train) & set(valid)
    assert fingerprint(pairs) != fingerprint(pairs[:-1])


def _many_users(catalog, n_users: int, per_user: int = 6) -> Interactions:
    """n_users users, each rating `per_user` items: alternately 5 and 3 stars (3 likes)."""
    users, rows, ws = [], [], []
    for u in range(n_users):
        for j in range(per_user):
            users.append(f"u{u}")
            rows.append((u + j) % len(catalog))
            ws.append(5.0 if j % 2 == 0 else 3.0)
    n = len(users)
    return Interactions(np.array(users, dtype=object), np.array(rows, np.int64), np.array(ws, np.float32),
                        np.arange(n, dtype=np.int64))


def test_validation_users_are_held_out_whole(tiny_catalog) -> None:
    log = _many_users(tiny_catalog, 40)
    fit, valid = split_pair_users(log, valid_share=0.1, seed=0, min_valid=2)
    fit_users, valid_users = set(fit.user_ids.tolist()), set(valid.user_ids.tolist())
    assert len(valid_users) == 4 and len(fit_users) == 36 and not fit_users & valid_users
    assert len(fit) + len(valid) == len(log)
    assert pair_evidence(fit) == (36, 36 * 3)  # 3 likes (5 stars, above the mean of 4) each
    # the same seed, the same users
    assert set(split_pair_users(log, 0.1, 0, 2)[1].user_ids.tolist()) == valid_users


def test_metadata_pairs_use_the_catalogs_kind(tiny_catalog) -> None:
    import random

    from retrieval.facets import BOOK

    books = Catalog("books", tiny_catalog.items, kind=BOOK)
    queries = [p.query for p in metadata_pairs(books, 40, random.Random(0))]
    assert all(" book" in q and "movie" not in q for q in queries)
    assert any("book from the 19" in q for q in queries)
    assert not any(" a animation" in q for q in queries)  # "an animation book"
