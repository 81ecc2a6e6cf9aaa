"""The reading benchmark's scorer (benchmarks/reading.py) on hand-made examples with known
scores, over the tests' movie catalog: matching by kind, value and polarity, the
annotation's conventions for years and list references, and the act counts."""

from __future__ import annotations

import pytest

from benchmarks.reading import Keys, prf, score, years_as_said
from tests.helpers import DATA, fixture_bot


@pytest.fixture(scope="module")
def bot():
    return fixture_bot(DATA / "movies", k=5)


def test_prf_and_years_conventions():
    assert prf(1, 2, 4) == {"precision": 0.5, "recall": 0.25, "f1": 0.333, "n_gold": 4, "n_pred": 2}
    assert prf(0, 0, 0)["f1"] == 0.0
    # "nothing before 2000" annotated as -1999 ruled out is 2000- asked for
    assert years_as_said(("years", "-1999", "-"), []) == ("years", "2000-", "+")
    # "older" is whatever one-sided range the reader resolved it to
    assert years_as_said(("years", "older", "+"), [("years", "-1979", "+")]) == ("years", "-1979", "+")
    assert years_as_said(("years", "older", "+"), []) == ("years", "older", "+")


def test_score_counts_acts_and_spans(bot):
    keys = Keys(bot.catalog, bot.vocabulary)
    examples = [
        {"id": "a", "context": [], "shown": [], "message": "I loved Heat, no horror please", "act": "request",
         "spans": [{"kind": "title", "text": "Heat", "polarity": "+", "value": "Heat (1995)"},
                   {"kind": "genre", "text": "horror", "polarity": "-", "value": "Horror"}]},
        {"id": "b", "context": [], "shown": [], "message": "bye!", "act": "goodbye", "spans": []},
        # a wrong annotation on purpose: the reader likes Collateral, the gold says disliked
        {"id": "c", "context": [], "shown": [], "message": "I loved Collateral", "act": "dislike",
         "spans": [{"kind": "title", "text": "Collateral", "polarity": "-", "value": "Collateral (2004)"}]},
    ]
    r = score(bot, examples, keys)
    assert r["n"] == 3 and r["act accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert r["spans"]["title"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "n_gold": 2, "n_pred": 2}
    assert r["spans"]["genre"]["f1"] == 1.0
    assert [w["id"] for w in r["misread"]] == ["c"]
    # negation scope: in messages with a ruled-out span, the found spans' polarity
    # (Heat +, horror - right; Collateral read + against the annotated -)
    assert r["negation scope"] == pytest.approx(2 / 3, abs=1e-3) and r["negation spans scored"] == 3


def test_titles_the_catalog_lacks_are_left_out_of_recall(bot):
    keys = Keys(bot.catalog, bot.vocabulary)
    ex = {"id": "d", "context": [], "shown": [], "message": "I loved Paddington 2", "act": "request",
          "spans": [{"kind": "title", "text": "Paddington 2", "polarity": "+", "value": "Paddington 2 (2017)"}]}
    r = score(bot, [ex], keys)
    assert r["titles not in the catalog"] == 1 and "title" not in r["spans"]
