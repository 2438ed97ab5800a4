"""Data sets, the train/test split and the per-rank partition, all seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .rng import numpy_rng


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    name: str

    @property
    def in_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def from_torch(train, test, classes: int, name: str = "custom") -> Dataset:
    """A user's torch ``Dataset`` pair (items ``(x, y)``) as gossip's in-memory Dataset."""

    def stack(ds):
        xs, ys = zip(*(ds[i] for i in range(len(ds))))
        x = torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in xs]).numpy()
        return x, np.asarray([int(v) for v in ys], dtype=np.int64)

    if len(train) == 0 or len(test) == 0:
        raise ValueError("from_torch: the train and test datasets must not be empty")
    (xtr, ytr), (xte, yte) = stack(train), stack(test)
    if ytr.min() < 0 or max(ytr.max(), yte.max()) >= classes:
        raise ValueError(f"from_torch: labels must lie in 0..{classes - 1}")
    return Dataset(xtr, ytr, xte, yte, classes=classes, name=name)


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


def load_dataset(name: str, test_fraction: float, seed: int, data_dir: str | None = None,
                 limit: int | None = None) -> Dataset:
    """digits (bundled, split here) or mnist / fashion-mnist / cifar10 (their own test sets)."""
    if name == "digits":
        ds = load_digits_split(test_fraction, seed)
        if limit:
            ds = Dataset(ds.x_train[:limit], ds.y_train[:limit], ds.x_test[:limit],
                         ds.y_test[:limit], ds.classes, ds.name)
        return ds
    from . import datasets

    if name in ("mnist", "fashion-mnist"):
        return datasets.load_mnist(data_dir, fashion=name == "fashion-mnist", limit=limit)
    if name == "cifar10":
        return datasets.load_cifar10(data_dir, limit=limit)
    raise ValueError(f"unknown dataset {name!r}; accepted: digits, mnist, fashion-mnist, cifar10")


def partition(labels: np.ndarray, n: int, how: str, seed: int, alpha: float = 0.5,
              min_size: int = 1, shards_per_rank: int = 2) -> list[np.ndarray]:
    """Split sample indices across ``n`` ranks: ``iid`` (equal random shards) or ``dirichlet``
    (per class, proportions ~ Dirichlet(alpha); smaller alpha = more label skew)."""
    rng = numpy_rng(seed, -1, "partition")
    m = labels.size
    if n > m:
        raise ValueError(f"cannot split {m} training samples across {n} ranks")
    if how == "iid":
        perm = rng.permutation(m)
        return [np.sort(p) for p in np.array_split(perm, n)]
    if how == "shards":
        from .datasets import shards_by_label

        return shards_by_label(labels, n, shards_per_rank=shards_per_rank, seed=seed)
    if how != "dirichlet":
        raise ValueError(f"unknown partition {how!r}; accepted: iid, dirichlet, shards")
    classes = np.unique(labels)
    for _ in range(1000):
        parts: list[list[np.ndarray]] = [[] for _ in range(n)]
        for c in classes:
            idx = np.flatnonzero(labels == c)
            rng.shuffle(idx)
            props = rng.dirichlet(np.full(n, alpha))
            cuts = (np.cumsum(props)[:-1] * idx.size).astype(np.int64)
            for r, chunk in enumerate(np.split(idx, cuts)):
                parts[r].append(chunk)
        shards = [np.sort(np.concatenate(p)) for p in parts]
        if min(s.size for s in shards) >= min_size:
            return shards
    raise ValueError(f"Dirichlet(alpha={alpha}) left a rank with fewer than {min_size} samples "
                     f"after 1000 draws; raise --dirichlet-alpha or use fewer ranks")


class BatchSampler:
    """Minibatches without replacement within an epoch; reshuffles every epoch (seeded)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.y = torch.from_numpy(np.ascontiguousarray(y))
        self.batch_size = min(batch_size, len(y))
        self.rng = rng
        self.perm = rng.permutation(len(y))
        self.pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pos + self.batch_size > self.perm.size:
            self.perm = self.rng.permutation(self.perm.size)
            self.pos = 0
        idx = torch.from_numpy(self.perm[self.pos:self.pos + self.batch_size])
        self.pos += self.batch_size
        return self.x[idx], self.y[idx]
