"""The genre words of one catalog: which everyday words ask for which of its genres.

Cues are built from the catalog's own genre names, normalised ("Sci-Fi", "Science Fiction"
and "science-fiction" are one genre; "Children's" is "children"), plus a small shared
synonym table ("funny" -> comedy, "scary" -> horror) that applies only where the catalog
has the target genre. Words that only mean a genre on screen ("family" -> Children,
"dark" -> Thriller/Crime, "pixar" -> Animation) and moods ("feel-good" -> Comedy, "sad" ->
Drama) apply only to catalogs of movies, so a bookshop's "family saga" is not a children's
book. Knows nothing of sessions or scoring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.facets import MOVIE, ItemKind

# Spellings of one genre that normalisation alone does not join.
ALIASES = {"sci fi": "science fiction", "scifi": "science fiction", "sf": "science fiction",
           "childrens": "children", "children s": "children", "kids": "children",
           "non fiction": "nonfiction", "ya": "young adult", "film noir": "noir",
           "biographies": "biography", "memoirs": "memoir", "self help": "self improvement",
           "romcom": "romantic comedy", "rom com": "romantic comedy", "musicals": "musical"}

# canonical genre -> words people use for it, in any catalog that has the genre.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "comedy": ("funny", "funnier", "comedy", "comedies", "hilarious", "laugh", "laughs", "humor", "humour",
               "lighthearted", "silly"),
    "animation": ("animated", "animation", "cartoon", "cartoons", "anime"),
    "children": ("kids", "kid", "children", "child", "toddler", "toddlers", "children's", "childrens"),
    "horror": ("horror", "scary", "scarier", "scare", "frightening", "creepy", "spooky", "terrifying", "slasher"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful"),
    "crime": ("crime", "gangster", "gangsters", "mafia", "heist", "detective"),
    "romance": ("romance", "romantic", "love story", "romances"),
    "science fiction": ("sci-fi", "sci fi", "scifi", "science fiction", "space", "alien", "aliens",
                        "futuristic", "robot", "robots"),
    "action": ("action", "martial arts", "shootout"),
    "adventure": ("adventure", "adventures", "quest", "epic"),
    "drama": ("drama", "dramas", "dramatic", "serious", "emotional", "moving"),
    "documentary": ("documentary", "documentaries"),
    "war": ("war", "soldiers", "battle", "military"),
    "western": ("western", "westerns", "cowboy", "cowboys"),
    "musical": ("musical", "musicals", "singing"),
    "mystery": ("mystery", "mysteries", "whodunit", "whodunnit"),
    "fantasy": ("fantasy", "magic", "wizard", "wizards", "dragons", "fairy tale"),
    "noir": ("noir", "film noir"),
    "nonfiction": ("non-fiction", "nonfiction", "non fiction", "true story", "true stories"),
    "memoir": ("memoir", "memoirs", "autobiography", "autobiographies"),
    "biography": ("biography", "biographies", "biopic", "biopics"),
    "young adult": ("young adult", "ya", "teen", "teens", "teenage"),
    "historical fiction": ("historical fiction", "historical novel", "historical novels"),
    "history": ("history", "historical"),
    "poetry": ("poetry", "poems", "poem"),
    "humor": ("funny", "humor", "humour", "hilarious", "comic", "comedic"),
    "classics": ("classic", "classics"),
}
# Words that mean a genre only on screen (see the module docstring).
SCREEN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "children": ("family",),
    "animation": ("pixar",),
    "thriller": ("tense", "dark", "darker", "gritty"),
    "crime": ("dark", "darker"),
    "action": ("explosions", "fights"),
}
# Moods: on screen, a feel-good evening is mostly a comedy and a sad film a drama; the
# reason says which word was read as which genre ("Comedy ('uplifting'), as you asked").
MOOD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "comedy": ("feel-good", "feel good", "feelgood", "uplifting", "heartwarming", "heart-warming",
               "heart warming", "cheerful", "cheer me up", "cheer us up", "cozy", "cosy", "relaxing", "rainy day",
               # comparatives after a list ("something happier", "lighter please", "less heavy")
               "happier", "cheerier", "lighter", "less heavy", "light-hearted", "light hearted"),
    "drama": ("sad", "tearjerker", "tearjerkers", "tear-jerker", "tear jerker", "heartbreaking", "depressing",
              "melancholic", "bittersweet", "weepy", "weepie", "make me cry", "want to cry", "a good cry"),
}
# Ruling a mood out ("nothing too sad") rules out neither its genre nor a title word.
MOODS = frozenset(w for ws in MOOD_SYNONYMS.values() for w in ws)

SCREEN_KINDS = frozenset({"movie", "film", "show", "series", "episode", "video"})  # kinds the screen words fit

# Cues that name only a corner of a genre: asking for them asks for the genre, but ruling
# them out ("no aliens", "nothing too dark") rules out that word in titles, not the genre.
NARROW = frozenset("""space alien aliens robot robots futuristic magic wizard wizards dragons dark darker
gritty tense heist detective mafia gangster gangsters soldiers battle military quest epic explosions
fights shootout singing cowboy cowboys emotional moving serious dramatic slasher silly laugh laughs
lighthearted family pixar anime whodunit whodunnit teen teens teenage historical classic poem""".split()) | {
    "fairy tale", "love story", "martial arts", "true story", "true stories"}


def canonical(genre: str) -> str:
    """'Sci-Fi' -> 'science fiction'; "Children's" -> 'children'; 'Non-Fiction' -> 'nonfiction'."""
    g = re.sub(r"[\-_/]+", " ", genre.lower().replace("&", " and ")).replace("'", " ")
    g = " ".join(re.findall(r"[a-z0-9]+", g))
    return ALIASES.get(g, ALIASES.get(g.replace(" s", "s"), g))


@dataclass(frozen=True)
class GenreVocabulary:
    """cues: lower-case catalog genre -> the words that ask for it (phrases allowed)."""

    cues: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, genres: "set[str] | frozenset[str] | list[str]", kind: ItemKind = MOVIE) -> "GenreVocabulary":
        """The vocabulary of a catalog with these genre names (any case) and kind of item."""
        cues: dict[str, tuple[str, ...]] = {}
        for genre in sorted({g.lower() for g in genres if g.strip()}):
            canon = canonical(genre)
            words = [genre, genre.replace("-", " "), canon, *SYNONYMS.get(canon, ())]
            if kind.noun in SCREEN_KINDS:
                words += SCREEN_SYNONYMS.get(canon, ()) + MOOD_SYNONYMS.get(canon, ())
            cues[genre] = tuple(dict.fromkeys(w for w in words if w))
        return cls(cues)

    def genres(self) -> frozenset[str]:
        return frozenset(self.cues)

    def find(self, text: str) -> dict[str, tuple[str, ...]]:
        """Catalog genre -> the cue words of `text` that name it, in the order the message
        names the genres. A cue inside a longer cue found at the same place counts only as
        the longer one ("science fiction" is not also "fiction")."""
        low = " " + re.sub(r"[^a-z0-9\-' ]+", " ", text.lower()) + " "
        hits: list[tuple[int, int, str, str]] = []  # (start, end, genre, cue)
        for genre, words in self.cues.items():
            for w in words:
                for m in re.finditer(re.escape(f" {w} "), low):
                    hits.append((m.start(), m.end(), genre, w))
        kept = [h for h in hits if not any(o[0] <= h[0] and h[1] <= o[1] and (o[1] - o[0]) > (h[1] - h[0])
                                           for o in hits)]
        found: dict[str, tuple[str, ...]] = {}
        for _, _, genre, w in sorted(kept):
            found[genre] = tuple(dict.fromkeys(found.get(genre, ()) + (w,)))
        return found

    def words(self) -> frozenset[str]:
        """Every single word that is part of some cue."""
        return frozenset(w for ws in self.cues.values() for cue in ws for w in cue.split())


# The vocabulary of the MovieLens genres: what read_turn uses when no catalog is given.
MOVIELENS_GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
                    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
                    "Thriller", "War", "Western")
