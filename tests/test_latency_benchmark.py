"""`make bench` (python -m benchmarks.latency without --artifacts) builds into a temporary
folder: everything it reads from the built encoder must be read before that folder goes."""

from __future__ import annotations

import json
from pathlib import Path


def test_latency_without_artifacts_reads_the_encoder_before_its_folder_goes(tmp_path, monkeypatch):
    import launch
    import retrieval.encoder
    from benchmarks import latency
    from retrieval.encoder import HashingEncoder

    monkeypatch.setattr(retrieval.encoder, "TransformerEncoder", lambda path=None, **_: HashingEncoder(64))
    real = launch.make_bot
    seen = {}

    def make_bot(args):
        bot, report = real(args)
        folder = Path(args.artifacts)
        seen["folder"] = folder
        # as the transformer encoder does: describe() fingerprints weights inside the artifacts
        bot.recommender.retriever.query_encoder.describe = lambda: {
            "precision": "int8", "files": sorted(p.name for p in folder.iterdir())}
        return bot, report

    monkeypatch.setattr(launch, "make_bot", make_bot)
    monkeypatch.setattr(latency, "RESULTS", tmp_path / "results")
    books = tmp_path / "books.csv"
    books.write_text("item_id,title,genres,year\nb1,The Long Winter,Fantasy,1990\nb2,Sea Stories,Adventure,2001\n")
    assert latency.main(["--turns", "3", "--warmup", "1", "--launch-args", f"--catalog {books}"]) == 0
    assert not seen["folder"].exists()  # the temporary build is gone after the run
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert result["queries"] == "int8" and result["turns_timed"] == 3
