"""The per-turn fast paths (issue 18) against the straightforward passes they replace.

Each reference below is the code as it was before (a Python pass over every item, CF
scored for every item, an argsort of the whole catalog); the fast path must give exactly
the same answer on the tiny catalog, the two fixture catalogs and a random catalog with
sequels, series notes, missing years and missing facets.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz, process

import fusion.cf as cf_module
from bot.conversation.chat import Bot, BotConfig
from bot.conversation.linking import SERIES_NOTE, FuzzyKeys
from fusion.cf import CFScores, History, ItemKNN, stable_top
from fusion.config import PipelineConfig
from fusion.recommender import Recommender
from retrieval.encoder import HashingEncoder
from retrieval.facets import MOVIE, Facets
from retrieval.loaders import item_text
from retrieval.records import Catalog, FacetFilter, Interactions, Item, Query
from retrieval.retriever import Retriever
from retrieval.titles import normalise_title
from tests.helpers import fixture_bot, tiny_bot

DATA = Path(__file__).parent / "data"
WORD = re.compile(r"[a-z0-9]+")
SEQUEL = re.compile(r"^ (?:\d{1,2}|ii|iii|iv|v|vi|part \w+|chapter \w+)\b")


# --- the straightforward passes (the code before) -----------------------------------
def reference_allowed(catalog: Catalog, query: Query) -> np.ndarray | None:
    banned = frozenset(t.lower() for t in query.banned_terms)
    if not banned and query.years is None and not query.facet_filters:
        return None
    mask = np.ones(len(catalog), bool)
    if banned:
        terms = [frozenset({g.lower() for g in it.genres} | set(WORD.findall(it.title.lower()))) for it in catalog.items]
        mask &= np.array([not (t & banned) for t in terms])
    if query.years is not None:
        first, last = query.years
        years = np.array([-1 if it.year is None else it.year for it in catalog.items], np.int64)
        mask &= years >= (first if first is not None else 0)
        mask &= years <= (last if last is not None else 10_000)
    for f in query.facet_filters:
        mask &= np.array([f.keeps(it.facets) for it in catalog.items])
    return mask


def reference_near_duplicates(bot: Bot, item_ids: tuple[str, ...]) -> tuple[str, ...]:
    if not item_ids:
        return ()
    catalog = bot.catalog
    vectors = bot.recommender.retriever.item_vectors
    rows = catalog.rows(item_ids)
    sims = vectors[rows] @ vectors.T
    close = set(np.nonzero((sims >= bot.config.near_duplicate).any(0))[0].tolist())
    stems = [normalise_title(catalog.items[r].title) for r in rows]
    series = {n for r in rows for m in SERIES_NOTE.finditer(catalog.items[r].title) for n in [normalise_title(m.group(1))]}
    for row, item in enumerate(catalog.items):
        t = normalise_title(item.title)
        if any(t == s or SEQUEL.match(t[len(s):]) for s in stems if t.startswith(s)):
            close.add(row)
        elif series and any(normalise_title(m.group(1)) in series for m in SERIES_NOTE.finditer(item.title)):
            close.add(row)
    return tuple(catalog.items[r].item_id for r in sorted(close - set(rows.tolist())))


def reference_pool(rec: Recommender, request):
    """(candidate rows, CFScores) as `Recommender.pool` found them before."""
    cfg = rec.config
    keep = np.ones(len(rec.catalog), bool) if request.allowed is None else request.allowed.copy()
    keep[list(request.excluded)] = False
    only = None if request.allowed is None else np.flatnonzero(request.allowed)
    _, rows = rec.retriever.index.search(request.query_vector[None, :], cfg.n_candidates + len(request.excluded) + 100,
                                         only)
    rows = rows[0][rows[0] >= 0]
    cand = text_rows = rows[keep[rows]][: cfg.n_candidates]
    cf = None
    history = request.history
    if len(history) and cfg.n_cf_candidates > 0:
        full = rec.cf.score(history, np.arange(len(rec.catalog), dtype=np.int64))
        if full.source not in ("popularity", "none"):
            order = np.argsort(-full.scores, kind="stable")
            extra = order[keep[order]][: cfg.n_cf_candidates]
            cand = np.array(list(dict.fromkeys(text_rows.tolist() + extra.tolist())), np.int64)
            cf = CFScores(full.scores[cand], full.evidence_rows[cand], full.source)
    if cf is None:
        cf = rec.cf.score(history, cand)
    return cand, cf


# --- catalogs ---------------------------------------------------------------------------
WORDS = ("star dark night love war story toy alien heat cold city house blue red king queen lost "
         "rocky matrix knight future back road wild secret").split()
GENRES = ("Action", "Comedy", "Drama", "Horror", "Thriller", "Animation", "Sci-Fi", "Romance")
PEOPLE = ("Ann Lee", "Bo Kane", "Cy Dorn", "dee vance", "Eve Moss", "ann lee")


def random_bot(n: int = 1500, seed: int = 0) -> Bot:
    """A catalog with sequels ("X 2", "X: Part Two"), series notes ("(Saga, #3)"),
    duplicate titles, items without a year or facets, and random ratings."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        title = " ".join(rng.choice(WORDS, rng.integers(1, 4))).title()
        roll = rng.random()
        if roll < 0.1 and items:
            title = f"{items[rng.integers(len(items))].title} {rng.choice(['2', '3', 'II', 'Part Two'])}"
        elif roll < 0.15:
            title = f"{title} ({rng.choice(['Saga', 'The Cycle', 'Moon Tales'])}, #{rng.integers(1, 6)})"
        elif roll < 0.2:
            title = f"{title}, The"
        year = None if rng.random() < 0.1 else int(rng.integers(1950, 2024))
        genres = tuple(rng.choice(GENRES, rng.integers(0, 3), replace=False).tolist())
        people = {}
        if rng.random() < 0.6:
            people["director"] = (str(rng.choice(PEOPLE)),)
        if rng.random() < 0.4:
            people["cast"] = tuple(rng.choice(PEOPLE, 2, replace=False).tolist())
        numbers = {"runtime": float(rng.integers(70, 180))} if rng.random() < 0.7 else {}
        cats = {"mpaa": (str(rng.choice(["G", "PG", "pg-13", "R"])),)} if rng.random() < 0.6 else {}
        items.append(Item(f"r{i}", title, item_text(title, year, genres), year, genres,
                          facets=Facets(people, numbers, cats)))
    catalog = Catalog("random", tuple(items), kind=MOVIE)
    users = rng.integers(0, 300, 20 * n)
    rows = np.minimum(rng.zipf(1.3, len(users)) - 1, n - 1)  # power-law popularity
    inter = Interactions(np.array([f"u{u}" for u in users], dtype=object), rows.astype(np.int64),
                         rng.integers(1, 6, len(users)).astype(np.float32), np.zeros(len(users), np.int64))
    rec = Recommender(Retriever.build(catalog, HashingEncoder(dim=64)), ItemKNN.fit(inter, n),
                      PipelineConfig(n_candidates=50, n_cf_candidates=40))
    return Bot(rec, BotConfig(near_duplicate=0.8))


BOTS = {"tiny": lambda: tiny_bot(), "movies": lambda: fixture_bot(DATA / "movies"),
        "books": lambda: fixture_bot(DATA / "books"), "random": lambda: random_bot()}


@pytest.fixture(scope="module", params=list(BOTS))
def bot(request) -> Bot:
    return BOTS[request.param]()


def random_queries(catalog: Catalog, rng, count: int = 40) -> list[Query]:
    terms = sorted({g.lower() for it in catalog.items for g in it.genres}
                   | {w for it in catalog.items[:50] for w in WORD.findall(it.title.lower())}) + ["nosuchword"]
    people = sorted({n for it in catalog.items for n in it.facets.names()}) or ["Nobody"]
    cats = sorted({(c, v) for it in catalog.items for c, vs in it.facets.categories.items() for v in vs}) or [("mpaa", "G")]
    nums = sorted({n for it in catalog.items for n in it.facets.numbers}) or ["runtime"]
    out = []
    for _ in range(count):
        banned = tuple(rng.choice(terms, rng.integers(0, 3), replace=False).tolist())
        years = None
        if rng.random() < 0.5:
            a, b = sorted(rng.integers(1900, 2030, 2).tolist())
            years = (a if rng.random() < 0.7 else None, b if rng.random() < 0.7 else None)
        filters = []
        for _ in range(rng.integers(0, 3)):
            negate = bool(rng.random() < 0.3)
            kind = rng.choice(["people", "cat", "num"])
            if kind == "people":
                role = str(rng.choice(["", "director", "cast", "author"]))
                name = str(rng.choice(people))
                filters.append(FacetFilter("people", role, (name.upper() if rng.random() < 0.3 else name,), negate=negate))
            elif kind == "cat":
                c, v = cats[rng.integers(len(cats))]
                filters.append(FacetFilter("cat", c, (v.lower(), "nothing"), negate=negate))
            else:
                lo, hi = sorted(rng.integers(50, 600, 2).tolist())
                filters.append(FacetFilter("num", str(rng.choice(nums)), low=lo if rng.random() < 0.7 else None,
                                           high=hi, negate=negate,
                                           unknown_passes=not negate and bool(rng.random() < 0.3)))
        out.append(Query(texts=("x",), banned_terms=banned, years=years, facet_filters=tuple(filters)))
    return out


# --- the comparisons ---------------------------------------------------------------------
def test_filter_masks_equal_the_per_item_reading(bot):
    rng = np.random.default_rng(0)
    for q in random_queries(bot.catalog, rng):
        fast, ref = bot.recommender.allowed_rows(q), reference_allowed(bot.catalog, q)
        assert (fast is None) == (ref is None), q
        if ref is not None:
            assert fast.tolist() == ref.tolist(), q


def test_near_duplicates_equal_the_full_pass(bot):
    rng = np.random.default_rng(1)
    ids = [it.item_id for it in bot.catalog.items]
    picks = [(i,) for i in ids[:60]] + [tuple(rng.choice(ids, 3, replace=False).tolist()) for _ in range(10)]
    for disliked in picks:
        assert bot.near_duplicates(disliked) == reference_near_duplicates(bot, disliked), disliked


def test_near_duplicates_through_an_ann_index_find_the_text_neighbours():
    bot = random_bot(seed=3)
    from bot.conversation.duplicates import NearDuplicates
    from retrieval.index import FaissIndex, IndexConfig

    vectors = bot.recommender.retriever.item_vectors
    ann = NearDuplicates(bot.catalog, vectors, FaissIndex.build(vectors, IndexConfig(ann_threshold=1)))
    exact = NearDuplicates(bot.catalog, vectors)
    for i in range(0, 200, 7):
        rows = np.array([i])
        assert ann.text_neighbours(rows, 0.8) == exact.text_neighbours(rows, 0.8)


def typo(text: str, rng) -> str:
    chars = list(text)
    for _ in range(rng.integers(0, 4)):
        op, p = rng.integers(3), int(rng.integers(len(chars) + 1))
        c = "abcdefghijklmnopqrstuvwxyz "[rng.integers(27)]
        if op == 0:
            chars.insert(p, c)
        elif p < len(chars):
            chars[p] = c if op == 1 else chars[p]
            if op == 2:
                chars.pop(p)
    return "".join(chars)


def test_fuzzy_keys_equal_extract_one_over_every_key(bot):
    rng = np.random.default_rng(2)
    keys = bot.linker.keys
    fuzzy = FuzzyKeys(keys)
    for _ in range(300):
        phrase = typo(keys[rng.integers(len(keys))], rng)
        if len(phrase) < 10:
            continue
        full = process.extractOne(phrase, keys, scorer=fuzz.ratio, score_cutoff=90)
        fast = fuzzy.best(phrase, 90)
        assert (full is None) == (fast is None), phrase
        if full is not None:
            assert (full[0], full[2]) == (fast[0], fast[2]), phrase


def test_linker_finds_the_same_titles_with_and_without_the_prefilter(bot, monkeypatch):
    rng = np.random.default_rng(4)
    messages = [f"I loved {typo(it.display_title(), rng)} and more" for it in bot.catalog.items[:80]]
    fast = [bot.linker.find(m) for m in messages]
    monkeypatch.setattr(bot.linker.fuzzy, "candidates", lambda phrase, cutoff: None)  # score every key
    assert [bot.linker.find(m) for m in messages] == fast


def test_stable_top_equals_a_full_stable_argsort():
    rng = np.random.default_rng(5)
    for _ in range(50):
        scores = rng.integers(-3, 4, 300).astype(np.float32)  # many ties
        keep = rng.random(300) < 0.7
        n = int(rng.integers(1, 320))
        order = np.argsort(-scores, kind="stable")
        assert stable_top(scores, keep, n).tolist() == order[keep[order]][:n].tolist()


@pytest.mark.parametrize("margin", [cf_module.TOP_MARGIN, 0.0])  # 0: the check fails over to every co-rated row
def test_itemknn_top_equals_dense_scoring(monkeypatch, margin):
    monkeypatch.setattr(cf_module, "TOP_MARGIN", margin)
    rec = random_bot(seed=6).recommender
    model: ItemKNN = rec.cf
    n_items = len(rec.catalog)
    rng = np.random.default_rng(6)
    every = np.arange(n_items, dtype=np.int64)
    for trial in range(40):
        h = int(rng.integers(1, 30))
        rows = rng.choice(n_items, h, replace=False).astype(np.int64)
        weights = rng.choice([1.5, 1.0, -1.0, 0.7], h).astype(np.float32)
        history = History(rows, weights)
        keep = rng.random(n_items) < 0.8
        n = int(rng.choice([5, 40, 200, 1200]))  # past the co-rated rows: zeros, then negatives
        full = model.score(history, every)
        order = np.argsort(-full.scores, kind="stable")
        rows, scored = model.top(history, n, keep)
        assert rows.tolist() == order[keep[order]][:n].tolist(), trial
        assert np.array_equal(scored.scores, full.scores[rows]) and np.array_equal(scored.evidence_rows,
                                                                                  full.evidence_rows[rows])
        some = rng.choice(n_items, 50, replace=False)
        part = model.score(history, some)
        assert np.array_equal(part.scores, full.scores[some]) and np.array_equal(part.evidence_rows,
                                                                               full.evidence_rows[some])


def test_pool_equals_the_dense_pool(bot):
    rec = bot.recommender
    rng = np.random.default_rng(7)
    ids = [it.item_id for it in bot.catalog.items]
    users = rec.cf.users[:5]
    for q in random_queries(bot.catalog, rng, 20):
        liked = tuple(rng.choice(ids, rng.integers(0, 4), replace=False).tolist())
        query = Query(texts=("a dark story", "funny"), liked_ids=liked, banned_terms=q.banned_terms, years=q.years,
                      facet_filters=q.facet_filters, user_id=str(rng.choice(users)) if rng.random() < 0.3 else None,
                      exclude_ids=tuple(rng.choice(ids, rng.integers(0, 4), replace=False).tolist()))
        request = rec.request(query)
        pool = rec.pool(request)
        cand, cf = reference_pool(rec, request)
        assert pool.rows.tolist() == cand.tolist()
        assert np.array_equal(pool.cf.scores, cf.scores) and np.array_equal(pool.cf.evidence_rows, cf.evidence_rows)
        assert pool.cf.source == cf.source
