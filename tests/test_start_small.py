"""Starting small honestly (issue 15 item 4): a catalog without interactions runs on text
alone; too little data skips fine-tuning and tuning, saying why; the build prints stage
headings with an ETA and one closing line. Tiny catalog, hashing encoder, known answers."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.build import STAGES, load_or_build
from fusion.cf import NoInteractions
from fusion.config import PipelineConfig
from fusion.stages import Stages, duration, estimate_encode_seconds
from retrieval.artifacts import read_manifest
from retrieval.records import Interactions, Query


def test_a_catalog_without_interactions_runs_on_text_alone(tmp_path, tiny_catalog, hashing_encoder):
    rec, report = load_or_build(tiny_catalog, Interactions.empty(), hashing_encoder, tmp_path / "art",
                                PipelineConfig(alpha=0.5), progress=False, finetune=True, tune=True)
    assert report.text_only and isinstance(rec.cf, NoInteractions) and rec.config.alpha == 1.0
    assert set(report.skipped) == {"fine-tuning", "tuning", "conversations"} and "no interactions" in report.skipped["tuning"]
    # the ranking is the text ranking: the same as the cosine order, likes or not
    query = Query(("dark crime thriller",), liked_ids=("m0",), k=12)
    recs = rec.recommend(query)
    sims = [r.similarity for r in recs]
    assert sims == sorted(sims, reverse=True) and all(r.cf == 0 and r.popularity_count == 0 for r in recs)
    assert {r.cf_source for r in recs} == {"none"} and recs[0].item.item_id in {"m6", "m7", "m11"}
    manifest = read_manifest(tmp_path / "art")
    assert manifest["kind"] == "build" and manifest["config"]["text_only"]
    assert manifest["config"]["pipeline"]["cf_model"] == "none"
    # a second start reuses everything
    _, again = load_or_build(tiny_catalog, Interactions.empty(), hashing_encoder, tmp_path / "art", progress=False)
    assert again.built == ()


def test_interactions_given_later_fit_cf_on_the_same_text(tmp_path, tiny_catalog, checkerboard, hashing_encoder):
    load_or_build(tiny_catalog, Interactions.empty(), hashing_encoder, tmp_path / "art", progress=False)
    rec, report = load_or_build(tiny_catalog, checkerboard, hashing_encoder, tmp_path / "art", progress=False)
    assert report.built == ("cf",) and rec.cf.name == "itemknn" and not report.text_only


def test_too_few_users_skip_tuning_with_the_reason(tmp_path, tiny_catalog, checkerboard, hashing_encoder):
    from fusion.tune import MIN_TUNE_TRAIN_USERS, N_TEST, N_VALIDATION, tune_readiness

    why = tune_readiness(checkerboard)
    assert why.startswith("8 users, 0 of them") and f"needs {N_TEST + N_VALIDATION + MIN_TUNE_TRAIN_USERS}" in why
    _, report = load_or_build(tiny_catalog, checkerboard, hashing_encoder, tmp_path / "art", progress=False,
                              tune=True)
    assert report.skipped["tuning"].startswith(why) and not (tmp_path / "art" / "fusion").exists()


def test_recommendations_never_call_a_rarely_rated_item_popular(tmp_path, tiny_catalog, checkerboard,
                                                                hashing_encoder):
    """Every checkerboard item has 4 ratings (< MIN_POPULARITY_COUNT): no popularity part,
    no count to cite; a fifth rating of m3 makes it the one popular item."""
    rec, _ = load_or_build(tiny_catalog, checkerboard, hashing_encoder, tmp_path / "a", progress=False)
    recs = rec.recommend(Query(("funny cartoon",), k=12, alpha=0.0))
    assert all(r.cf_source == "popularity" and r.cf == 0 and r.popularity_count == 0 for r in recs)
    log = Interactions(np.append(checkerboard.user_ids, "u9"), np.append(checkerboard.item_rows, 3),
                       np.append(checkerboard.weights, 4.0), np.append(checkerboard.timestamps, 0))
    rec, _ = load_or_build(tiny_catalog, log, hashing_encoder, tmp_path / "b", progress=False)
    recs = rec.recommend(Query(("funny cartoon",), k=12, alpha=0.0))
    assert recs[0].item.item_id == "m3" and recs[0].popularity_count == 5 and recs[0].cf == 1.0
    assert all(r.popularity_count == 0 and r.cf == 0 for r in recs[1:])


def test_the_build_prints_stages_an_eta_and_one_summary_line(tmp_path, tiny_catalog, checkerboard,
                                                             hashing_encoder, capsys):
    _, report = load_or_build(tiny_catalog, checkerboard, hashing_encoder, tmp_path / "art", progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0] == "[1/5] fine-tuning: skipped, not asked for (--no-finetune)"
    assert lines[1].startswith("[2/5] encoding 12 movies (ETA ") and lines[1].endswith("s)")
    assert lines[-1] == report.summary and report.summary.startswith("tiny: 12 movies, 48 interactions; built text, cf")
    assert "(CPU " in report.summary and "fine-tuning skipped (not asked for" in report.summary
    assert len(STAGES) == 5


def test_durations_and_estimates():
    assert [duration(s) for s in (0.4, 12.3, 100, 4000)] == ["0s", "12s", "1m40s", "1h06m"]
    seen = []
    estimate = estimate_encode_seconds(lambda texts: seen.append(len(texts)), [f"t{i}" for i in range(1000)], 64)
    assert seen == [2, 64] and estimate >= 0.0  # a warm-up of 2, then every 15th text (1000 // 64), 64 of them
    stages = Stages(("a", "b"), progress=False)
    stages.skip("a", "why not")
    stages.start("b", "doing b")
    stages.done("b")
    assert stages.skipped() == {"a": "why not"} and "a skipped (why not); b built" in stages.summary("x")


def test_launch_accepts_a_catalog_without_interactions(tmp_path):
    from launch import parse_args

    args = parse_args(["--catalog", str(tmp_path / "books.csv")])
    assert args.interactions is None
    with pytest.raises(SystemExit):
        parse_args(["--interactions", str(tmp_path / "log.csv")])


def test_launch_starts_text_only_and_says_so(tmp_path, monkeypatch, capsys):
    import retrieval.encoder
    from launch import make_bot, parse_args
    from retrieval.encoder import HashingEncoder

    monkeypatch.setattr(retrieval.encoder, "TransformerEncoder", lambda path=None, **_: HashingEncoder(64))
    books = tmp_path / "books.csv"
    books.write_text("item_id,title,genres,year\nb1,The Long Winter,Fantasy,1990\nb2,Sea Stories,Adventure,2001\n")
    args = parse_args(["--catalog", str(books), "--artifacts", str(tmp_path / "art")])
    bot, report = make_bot(args)
    out = capsys.readouterr().out
    assert "recommendations use the item texts only" in out and "until interactions are given" in out
    assert report.text_only and args.alpha == 1.0 and bot is not None
