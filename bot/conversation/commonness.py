"""How common a word is in English, for telling names and titles from plain words.

wordfreq's Zipf scale (7 'the', 5 'heat', 3 'requiem', 0 a word it has never seen), from
its bundled data: nothing is downloaded. Look-ups are cached; the data loads on first use,
not at import. Knows nothing of catalogs or messages.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=8192)
def zipf(word: str) -> float:
    """Zipf frequency of `word` (lower case) in English."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")
