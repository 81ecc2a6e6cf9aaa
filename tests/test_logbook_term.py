"""Items liked together in the bot's own chats (fusion/logbook_term.py), learned by
`python -m bot.offline.learn` and served as the "logbook" term, on a hand-made logbook whose
answer is known: B (m6, a dark film) is always liked right after A (m0, a kids' film);
in the ratings the two taste groups never meet, so only the logbook links them."""

from __future__ import annotations

from pathlib import Path


from bot.conversation.chat import Bot, BotConfig
from bot.conversation.justify import claims
from bot.offline.learn import logged_sessions
from bot.service.logbook import Logbook
from fusion.build import load_or_build
from fusion.config import PipelineConfig, load_config
from fusion.cooccur import CoOccurrence
from fusion.learn import LearnConfig, learn
from fusion.logbook_term import LOGBOOK, choose_weight, next_like_cases, with_logbook
from fusion.terms import CoOccurTerm
from retrieval.encoder import HashingEncoder
from retrieval.records import LoggedSession
from tests.test_learn import clock, turn

A, B = "m0", "m6"


def write_log(path: Path, n: int) -> Path:
    """n anonymous sessions: "something for tonight" shows A and B; A is liked, then after
    "more like that" B is liked."""
    with Logbook(path, clock=clock()) as book:
        for i in range(n):
            sid = f"s{i}"
            book.log_session(sid, None, None, None)
            turn(book, sid, 0, "something for tonight", [A, "m3", "m9"])
            book.log_feedback(sid, A, "like", 0)
            turn(book, sid, 1, "more like that", [B, "m1"])
            book.log_feedback(sid, B, "like", 1)
    return path


def sessions(path: Path) -> list[LoggedSession]:
    with Logbook(path, create=False) as book:
        return logged_sessions(book.sessions())[0]


def rank_after_liking(bot: Bot, liked: str, item_id: str) -> tuple[int, str]:
    """(1-based rank of item_id, its reason) after the person likes `liked` in chat."""
    session = bot.feedback(bot.new_session("t"), liked=(liked,))
    items = bot.respond("more like that", session).items
    for i, it in enumerate(items, start=1):
        if it.recommendation.item.item_id == item_id:
            return i, it.reason
    return len(bot.catalog) + 1, ""


def test_next_like_cases_rank_each_later_like_after_the_earlier_ones(tmp_path: Path, tiny_catalog) -> None:
    s = sessions(write_log(tmp_path / "log.sqlite", n=1))[0]
    cases = next_like_cases([s], tiny_catalog)
    assert len(cases) == 1  # the first like has nothing earlier to fold in
    c = cases[0]
    assert c.target_row == tiny_catalog.row(B) and c.query.liked_ids == (A,) and c.query.user_id is None
    assert c.query.texts == ("something for tonight", "more like that")


def test_by_default_the_term_is_found_but_not_served(serving: Path, tmp_path: Path, tiny_catalog,
                                                     checkerboard) -> None:
    """Off unless --logbook-term: the weight the held-out sessions would choose is reported,
    the folder serves 0 (the long-term simulation showed the term lowering accuracy)."""
    out = tmp_path / "learned"
    report = learn(serving, out, tiny_catalog, checkerboard, HashingEncoder(dim=256),
                   sessions(write_log(tmp_path / "log.sqlite", n=4)), LearnConfig(holdout_share=0.25, seed=0))
    choice = report.logbook
    assert choice.weight == 0.0 and choice.found > 0  # the same sessions as the test below: it would be served
    assert "term off" in choice.line() and "--logbook-term" in choice.line()
    config, entry = load_config(out / "fusion")
    assert not config.weights.get(LOGBOOK) and entry[LOGBOOK]["found"] == choice.found


def test_learned_cooccurrence_is_served_weighted_and_cited(serving: Path, tmp_path: Path, tiny_catalog,
                                                           checkerboard) -> None:
    # four sessions, one held out: three learned from are enough for the term and too few
    # for the refitted CF (eight raters keep the groups apart) to rank B first by itself
    log = write_log(tmp_path / "log.sqlite", n=4)
    out = tmp_path / "learned"
    report = learn(serving, out, tiny_catalog, checkerboard, HashingEncoder(dim=256), sessions(log),
                   LearnConfig(holdout_share=0.25, seed=0, logbook_term=True))
    choice = report.logbook
    # the held-out sessions' B, ranked after their A, is what the term lifts: a weight above 0 wins
    assert choice is not None and choice.cases == report.held_out == 1
    assert choice.weight > 0 and choice.ndcg[choice.weight] > choice.ndcg[0.0]
    config, entry = load_config(out / "fusion")
    assert config.weights[LOGBOOK] == choice.weight and entry[LOGBOOK]["weight"] == choice.weight
    assert (out / "learned" / "cooccur" / "manifest.json").exists()

    def bot(folder: Path) -> Bot:
        rec, _ = load_or_build(tiny_catalog, checkerboard, HashingEncoder(dim=256), folder,
                               PipelineConfig(n_candidates=None), progress=False)
        return Bot(rec, BotConfig(k=len(tiny_catalog)))

    served = bot(out)
    assert LOGBOOK in served.recommender.terms and served.recommender.config.weights[LOGBOOK] == choice.weight
    before, _ = rank_after_liking(bot(serving), A, B)
    after, reason = rank_after_liking(served, A, B)
    assert after < before
    label = tiny_catalog.items[tiny_catalog.row(A)].display_label()
    assert f"people who liked {label} in earlier chats here also liked it" in reason
    # the claim names the liked item the co-occurrence really links to B
    turn = served.respond("more like that", served.feedback(served.new_session("t"), liked=(A,)))
    session = turn.session
    rec_b = next(it.recommendation for it in turn.items if it.recommendation.item.item_id == B)
    cited = [c for c in claims(rec_b, session, tiny_catalog) if c.kind == "liked_in_chats"]
    assert [c.value for c in cited] == [label] and rec_b.term_evidence[LOGBOOK].item_id == A


def test_the_weight_stays_0_when_held_out_likes_do_not_reward_it(serving: Path, tmp_path: Path, tiny_catalog,
                                                                 checkerboard) -> None:
    from fusion.learn import load_pipeline

    rec = load_pipeline(serving, tiny_catalog, checkerboard, HashingEncoder(dim=256))
    # the logbook says A and B go together; the held-out people liked A and then m1 (kids, like A)
    term = CoOccurTerm(LOGBOOK, CoOccurrence.fit([[0, 6]] * 5, len(tiny_catalog)))
    held = [LoggedSession(f"h{i}", ("something for tonight", "more like that"), ((A, 0), ("m1", 1)))
            for i in range(3)]
    choice = choose_weight(rec, term, next_like_cases(held, tiny_catalog))
    assert choice.cases == 3 and choice.weight == 0.0
    assert all(v <= choice.ndcg[0.0] for v in choice.ndcg.values())
    # no held-out like to choose on: off
    assert choose_weight(rec, term, []).weight == 0.0
    # weight 0 ranks as the pipeline without the term
    q = next_like_cases(held, tiny_catalog)[0].query
    assert [r.item.item_id for r in with_logbook(rec, term, 0.0).recommend(q)] == \
        [r.item.item_id for r in rec.recommend(q)]


def test_a_text_only_catalog_serves_the_chosen_weight_too(tmp_path: Path, tiny_catalog) -> None:
    from retrieval.records import Interactions

    none = Interactions.empty()
    load_or_build(tiny_catalog, none, HashingEncoder(dim=256), tmp_path / "serving",
                  PipelineConfig(n_candidates=None), progress=False)
    report = learn(tmp_path / "serving", tmp_path / "learned", tiny_catalog, none, HashingEncoder(dim=256),
                   sessions(write_log(tmp_path / "log.sqlite", n=4)),
                   LearnConfig(holdout_share=0.25, seed=0, logbook_term=True))
    assert report.logbook is not None and report.logbook.weight > 0
    rec, build = load_or_build(tiny_catalog, none, HashingEncoder(dim=256), tmp_path / "learned",
                               PipelineConfig(n_candidates=None), progress=False)
    assert build.text_only and rec.config.weights[LOGBOOK] == report.logbook.weight
