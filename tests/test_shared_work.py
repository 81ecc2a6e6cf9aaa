"""What a long run shares between pipelines must not change what they answer: the
memo encoder (retrieval/encoder.py MemoEncoder), a bot over a refitted pipeline
(bot/conversation/chat.py Bot.with_recommender) and a scratch logbook (durable=False)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.service.logbook import Logbook
from fusion.cf import ItemKNN
from fusion.logged import append
from fusion.recommender import Recommender
from retrieval.encoder import HashingEncoder, MemoEncoder
from retrieval.records import Interactions
from tests.conftest import make_checkerboard
from tests.helpers import tiny_bot


class Counting(HashingEncoder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.calls: list[list[str]] = []

    def encode(self, texts, batch_size=64, progress=False):
        self.calls.append(list(texts))
        return super().encode(texts, batch_size, progress)


def test_memo_encoder_encodes_each_text_once_with_the_same_vectors() -> None:
    inner = Counting()
    memo = MemoEncoder(inner)
    a = memo.encode(["space opera", "a quiet comedy"])
    b = memo.encode(["a quiet comedy", "space opera", "noir", "noir"])
    assert inner.calls == [["space opera", "a quiet comedy"], ["noir"]]  # new texts only, in one call
    assert np.array_equal(b[:2], a[::-1]) and np.array_equal(b[2], b[3])
    assert np.array_equal(b, HashingEncoder(dim=64).encode(["a quiet comedy", "space opera", "noir", "noir"]))
    assert (memo.encoded, memo.reused) == (3, 3)
    assert memo.describe() == inner.describe() and memo.encode([]).shape == (0, 64)


def test_bot_over_a_refitted_pipeline_answers_as_a_new_bot() -> None:
    from bot.conversation.chat import Bot

    bot = tiny_bot(k=4)
    rec = bot.recommender
    log = make_checkerboard(bot.catalog)
    extra = Interactions(np.array(["new"] * 2, dtype=object), np.array([5, 6], np.int64),
                         np.full(2, 5.0, np.float32), np.zeros(2, np.int64))
    more = ItemKNN.fit(append(log, extra), len(bot.catalog))  # refitted on more: other counts
    other = Recommender(rec.retriever, more, rec.config)
    shared, fresh = bot.with_recommender(other), Bot(Recommender(rec.retriever, more, rec.config), bot.config)
    assert shared.recommender is other and shared.reader.facets is bot.reader.facets and bot.recommender is rec
    assert other.filters is rec.filters  # the catalog's filter indexes, built once
    assert shared.linker is not bot.linker  # its tie-breaker, the CF counts, changed
    assert bot.with_recommender(Recommender(rec.retriever, rec.cf, rec.config)).linker is bot.linker
    for message in ("something funny for the kids", "Show me more.", "no animation, please"):
        s1, s2 = shared.new_session("a"), fresh.new_session("a")
        t1, t2 = shared.respond(message, s1), fresh.respond(message, s2)
        assert [i.recommendation.item.item_id for i in t1.items] == [i.recommendation.item.item_id for i in t2.items]
        assert t1.reply == t2.reply


def test_scratch_logbook_skips_fsync_and_keeps_rows(tmp_path: Path) -> None:
    with Logbook(tmp_path / "scratch.sqlite", durable=False) as book:
        assert book._db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        book.log_session("s1", None, None, None)
        book.log_event("s1", "consent", {"accepted": True})
    with Logbook(tmp_path / "scratch.sqlite", create=False) as book:
        assert book._db.execute("PRAGMA synchronous").fetchone()[0] != 0  # durable by default
        assert len(book.sessions()) == 1
