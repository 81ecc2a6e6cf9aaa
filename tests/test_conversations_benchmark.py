"""benchmarks/conversations.py: replaying a ReDial-style dialogue through the bot, with
known cases and ranks on the tiny catalog."""

from __future__ import annotations

from bot.offline.replay import Case, replay, score
from fusion.fuse import WeightedFuser
from retrieval.dialogue import Dialogue, Utterance
from tests.helpers import tiny_bot

DIALOGUE = Dialogue("d1", (
    Utterance(False, "hi, what do you like?", ("r9",)),  # before the seeker speaks: no case
    Utterance(True, "a dark crime thriller please", ()),
    Utterance(False, "try Midnight Heist", ("r6", "x1")),  # x1 is not in the bot's catalog
    Utterance(True, "I loved Midnight Heist", ("r6",)),
    Utterance(False, "then Dark Alley, or Midnight Heist again", ("r7", "r6")),
    Utterance(False, "Mafia Night?", ("r9",)),  # only a movie named before: no case
), frozenset(), frozenset())
TO_BOT = {"r6": "m6", "r7": "m7", "r9": "m9"}


def test_replay_cases_follow_the_new_items_rule():
    bot = tiny_bot(k=3)
    cases = replay(bot, [DIALOGUE], TO_BOT)
    assert [(c.targets, c.earlier) for c in cases] == [(("m6",), ("m9",)), (("m7",), ("m9", "m6"))]
    assert cases[0].session.turns == ("a dark crime thriller please",)
    assert cases[1].session.liked_ids == ("m6",)  # the bot heard the seeker's like


def test_score_reads_ranks_off_the_bots_list():
    bot = tiny_bot(k=3)
    cases = replay(bot, [DIALOGUE], TO_BOT)
    metrics = score(bot, cases, {"shipped": None, "text": WeightedFuser(1.0)}, k=5)
    for m in metrics.values():
        assert m.n_samples == 2 and len(m.ranks) == 2
        assert all(1 <= r <= 6 for r in m.ranks)
    assert metrics["text"].ranks[0] <= 3  # the dark request finds Midnight Heist by its words
    # an earlier-mentioned movie is never listed: as a target it is always a miss
    earlier = Case("d1", cases[1].session, ("m9",), ("m9",))
    assert score(bot, [earlier], {"shipped": None}, k=5)["shipped"].ranks == [6]


def test_replay_with_replies_puts_the_bots_lists_in_the_transcript():
    bot = tiny_bot(k=3)
    cases = replay(bot, [DIALOGUE], TO_BOT, replies=True)
    # the first recommender turn after the seeker spoke is answered: 3 items shown, its top 3 named
    second = cases[1].session
    assert len(second.shown_ids) == 3 and len(second.transcript) == 3
    assert [t.seeker for t in second.transcript] == [True, False, True]
    assert second.transcript[1].item_ids == second.shown_ids
    assert second.transcript[1].text.startswith("How about ")


def test_a_target_the_bot_already_showed_counts_when_asked():
    bot = tiny_bot(k=3)
    cases = replay(bot, [DIALOGUE], TO_BOT, replies=True)
    shown = dict(cases[1].shown)
    assert set(shown) == set(cases[1].session.shown_ids) and all(1 <= r <= 3 for r in shown.values())
    target = next(iter(shown))
    case = Case("d1", cases[1].session, (target,), (), ((target, shown[target]),))
    assert score(bot, [case], {"shipped": None}, k=5)["shipped"].ranks == [6]  # never listed again
    assert score(bot, [case], {"shipped": None}, k=5, count_shown=True)["shipped"].ranks == [shown[target]]
