"""The l1 proximal step: soft-thresholding, which makes exact zeros."""

from __future__ import annotations

import numpy as np


def soft_threshold(y: np.ndarray, tau: float, out: np.ndarray) -> np.ndarray:
    """sign(y)·max(|y| − τ, 0), written into ``out`` (exact zeros)."""
    if tau <= 0:
        out[:] = y
        return out
    mag = np.abs(y) - np.float32(tau)
    np.maximum(mag, 0, out=mag)
    np.multiply(np.sign(y), mag, out=out)
    return out
