"""The ratings-only pipeline's request terms and "popular" prior, and the replay defaults
a build applies (fusion/build.py ratings_only, fusion/config.py)."""

from __future__ import annotations

import numpy as np

from fusion.config import TOPIC_WEIGHT, PipelineConfig, with_replay_defaults
from fusion.terms import popular_term, request_terms
from tests.helpers import tiny_bot

# on top of the checkerboard's 4 ratings each: m10 +6 (10 in all), m9 +4 (8), m0 +1 (5)
EXTRA = (tuple((f"u{u}", 10) for u in range(8, 14)) + tuple((f"u{u}", 9) for u in range(8, 12))
         + (("u8", 0),))


def test_the_popular_prior_is_the_cf_popularity_of_the_most_rated_items():
    rec = tiny_bot(extra=EXTRA).recommender
    term = popular_term(rec.cf.counts)
    counts = rec.cf.counts
    assert term.name == "popular" and term.norm == "raw"
    rows = np.arange(len(rec.catalog))
    values = term.score(None, rows)
    assert np.argmax(values) == np.argmax(counts) == 10  # rated 10 times, the most: the known answer
    assert values.max() == 1.0 and (values[counts < 5] == 0).all()  # too few ratings: no popularity
    assert (term.counts == np.where(counts >= 5, counts, 0)).all()


def test_the_request_terms_need_no_data_beyond_the_catalog():
    rec = tiny_bot().recommender
    assert [t.name for t in request_terms(rec.catalog, rec.retriever.item_vectors)] == [
        "repeat", "entity", "latest", "genres", "topics", "alike"]


def test_replay_defaults_go_over_the_tuned_config(monkeypatch):
    import fusion.config as config_module

    monkeypatch.setattr(config_module, "REPLAY_DEFAULTS",
                        {"weights": {"popular": 0.3}, "entity_weight": 0.6})
    tuned = PipelineConfig(cf_model="ease", weights={"other": 0.1}, fuser={"kind": "weighted", "alpha": 0.4})
    chosen = with_replay_defaults(tuned)
    assert chosen.weights == {"other": 0.1, "popular": 0.3} and chosen.entity_weight == 0.6
    assert chosen.cf_model == "ease" and chosen.fuser == tuned.fuser  # what the ratings tuned stays
    assert PipelineConfig.from_dict(chosen.to_dict()) == chosen  # serialisable both ways


def test_a_build_weighs_the_terms_only_over_a_tuned_config(monkeypatch):
    import fusion.config as config_module
    from fusion.build import ratings_only

    monkeypatch.setattr(config_module, "REPLAY_DEFAULTS", {"weights": {"popular": 0.3, "genres": 0.3}})
    rec = tiny_bot(extra=EXTRA).recommender
    terms, config = ratings_only(rec.retriever, rec.cf, rec.config, tuned=False)
    assert {t.name for t in terms} == {"repeat", "entity", "latest", "genres", "topics", "alike", "popular"}
    # too few ratings to tune: nothing chosen over them but the topics' weight
    assert config == rec.config.with_(weights={"topics": TOPIC_WEIGHT})
    terms, config = ratings_only(rec.retriever, rec.cf, rec.config, tuned=True)
    assert config.weights == {"topics": TOPIC_WEIGHT, "popular": 0.3, "genres": 0.3}
    # a CF without counts (a text-only catalog) has no "popular" prior: the defaults stay off
    no_counts = type("NoCounts", (), {"counts": np.zeros(len(rec.catalog), np.int64)})()
    terms, config = ratings_only(rec.retriever, no_counts, rec.config, tuned=True)
    assert "popular" not in {t.name for t in terms} and config == rec.config.with_(weights={"topics": TOPIC_WEIGHT})
    # terms the folder already serves (e.g. the logbook's) are kept, their weights too
    logbook = type("Logbook", (), {"name": "logbook"})()
    terms, config = ratings_only(rec.retriever, rec.cf, rec.config.with_(weights={"logbook": 0.2}), True, [logbook])
    assert terms[0] is logbook and config.weights == {"topics": TOPIC_WEIGHT, "logbook": 0.2, "popular": 0.3,
                                                      "genres": 0.3}


def test_the_shipped_defaults_are_the_ones_the_dev_replay_chose():
    """fusion/config.py REPLAY_DEFAULTS is what `python -m benchmarks.conversations
    --tune-defaults ../shared/data/redial/train.jsonl` chose (its committed report)."""
    import json
    from pathlib import Path

    from fusion.config import REPLAY_DEFAULTS

    report = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "conversations_defaults.json"
    chosen = json.loads(report.read_text())["chosen_delta"]
    assert REPLAY_DEFAULTS == chosen
