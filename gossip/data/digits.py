"""scikit-learn's bundled digits, split into train and test here (seeded, stratified)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from ..rng import numpy_rng
from .base import Dataset


def load_digits_split(test_fraction: float, seed: int) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1,797 real images; offline), scaled to [0, 1]."""
    data, target = _digits()
    x = (data / 16.0).astype(np.float32)
    y = target.astype(np.int64)
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


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(data, target) as ``sklearn.datasets.load_digits`` gives them, read straight from the
    CSV that scikit-learn ships: importing sklearn (and scipy with it) would cost each rank
    about a second of start-up."""
    spec = importlib.util.find_spec("sklearn")
    path = (Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
            if spec is not None and spec.origin else None)
    if path is None or not path.is_file():  # an unusual install: let sklearn find it
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data, d.target
    with gzip.open(path, "rt", encoding="utf-8") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int, copy=False)
