"""Score normalisation and the fusion rule `alpha * text + (1 - alpha) * cf`."""

from __future__ import annotations

import numpy as np


def minmax(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] within one query's candidates; a constant vector maps to zeros
    (it carries no preference between candidates)."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def weighted_fusion(text: np.ndarray, cf: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (fused, text_part, cf_part), each float32 (n,); parts are the normalised
    scores before weighting, so fused = alpha * text_part + (1 - alpha) * cf_part."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    t, c = minmax(text), minmax(cf)
    return (alpha * t + (1.0 - alpha) * c).astype(np.float32), t, c
