"""scikit-learn's bundled digits, split into train and test here (seeded, stratified)."""

from __future__ import annotations

import numpy as np

from ..rng import numpy_rng
from .base import Dataset


def load_digits_split(test_fraction: float, seed: int) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1,797 real images; offline), scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = numpy_rng(seed, -1, "split")
    # Stratified split: the same fraction of every class goes to the test set.
    test_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test_idx.append(idx[: max(1, int(round(test_fraction * idx.size)))])
    test = np.sort(np.concatenate(test_idx))
    train = np.setdiff1d(np.arange(y.size), test)
    return Dataset(x[train], y[train], x[test], y[test], classes=10, name="digits")
