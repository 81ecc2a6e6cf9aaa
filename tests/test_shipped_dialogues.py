"""The dialogues shipped with the package (retrieval/shipped_dialogues.py): the file format
on known records, its refusals, the relinking to a catalog, and the shipped file itself
(from train.jsonl only, rebuilt byte for byte from ../shared where it exists)."""

import gzip
import json

import pytest

from retrieval.dialogue import Dialogue, Utterance
from retrieval.loaders import DataError
from retrieval.shipped_dialogues import DIALOGUES_FILE, dialogues_bytes, read_dialogues, shipped_dialogues
from tests.helpers import demo

TWO = [Dialogue("7", (Utterance(True, "Hi, I liked Heat (1995) and Alien", ("10",)),
                      Utterance(False, "Try The Matrix (1999)", ("2", "99"))),
                frozenset({"10"}), frozenset({"99"})),
       Dialogue("3", (Utterance(True, "anything funny?"),))]


def test_bytes_round_trip_and_are_stable(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(dialogues_bytes(TWO))
    assert read_dialogues(path) == TWO  # order, speakers, texts, ids and answers kept
    assert dialogues_bytes(TWO) == dialogues_bytes(list(TWO))  # no timestamp in the gzip header


def test_linking_to_a_catalog_drops_unknown_ids_and_keeps_words(tmp_path, tiny_catalog):
    known = tiny_catalog.items[0].item_id
    dialogues = [Dialogue("1", (Utterance(True, "loved it", (known, "no-such-id")),), frozenset({known, "no-such-id"}))]
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(dialogues_bytes(dialogues))
    (d,) = shipped_dialogues(tiny_catalog, path)
    assert d.turns[0].item_ids == (known,) and d.turns[0].text == "loved it"
    assert d.seeker_liked_ids == frozenset({known})


@pytest.mark.parametrize("content, says", [
    (None, "missing from the package"),
    (b"not gzip", "unreadable"),
    (gzip.compress(b'{"id": "1"}\n'), ":1: not a dialogue record"),
    (gzip.compress(b'{"id": "1", "turns": [[1, "hi"]], "liked": [], "disliked": []}\n'), "not a dialogue record"),
])
def test_a_missing_or_damaged_file_is_refused_with_how_to_rebuild(tmp_path, content, says):
    path = tmp_path / "d.jsonl.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=says) as e:
        read_dialogues(path)
    assert "build_dialogues" in str(e.value)


def test_the_shipped_file_holds_train_dialogues_only():
    dialogues = read_dialogues()
    assert len(dialogues) == 1513 and len({d.dialogue_id for d in dialogues}) == 1513
    assert sum(len(t.item_ids) for d in dialogues for t in d.turns) == 6290  # as LICENSE-REDIAL.txt says
    from retrieval.redial import default_data_dir

    valid = default_data_dir() / "valid.jsonl"
    if not valid.exists():
        pytest.skip(f"{valid} not found (absent on fresh clones): the valid ids cannot be checked")
    valid_ids = {str(json.loads(line)["conversationId"]) for line in valid.read_text(encoding="utf-8").splitlines()}
    assert not valid_ids & {d.dialogue_id for d in dialogues}


@demo
def test_the_shipped_file_rebuilds_byte_for_byte():
    from retrieval.data.build_dialogues import build
    from retrieval.redial import default_data_dir

    if not (default_data_dir() / "train.jsonl").exists():
        pytest.skip(f"ReDial data not found at {default_data_dir()} (absent on fresh clones)")
    data, linked = build(default_data_dir())
    assert data == DIALOGUES_FILE.read_bytes()
    assert (linked.movies_linked, linked.mentions, linked.mentions_linked) == (3502, 9551, 6290)


@demo
def test_the_shipped_choices_are_those_of_the_default_build():
    """The tuned choices in retrieval/data/movielens_choices.json apply to `make run`'s build:
    its recipe (data, dialogues, fine-tuning recipe, tuners, start config) is the one they
    were recorded for. A change to any of them without `python -m fusion.choices record`
    would silently put the ~9 minutes of tuning back into every first build; this says so."""
    import launch
    from fusion.build import _recipe
    from fusion.choices import CONVERSATIONS, RATINGS, ShippedChoices
    from fusion.config import PipelineConfig
    from retrieval.encoder import TransformerEncoder

    args = launch.parse_args([])
    catalog, interactions = launch.load_data(args)
    conversations = launch.load_conversations(args, catalog)
    recipe = _recipe(catalog, interactions, TransformerEncoder(args.encoder), True, None, conversations,
                     PipelineConfig(alpha=args.alpha), args.query_precision == "int8")
    choices = ShippedChoices.load()
    for which in (RATINGS, CONVERSATIONS):
        choice, why = choices.get(which, recipe)
        assert choice is not None, f"{why}: rebuild with --rebuild-choices and run python -m fusion.choices record"
