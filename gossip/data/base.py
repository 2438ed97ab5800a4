"""The in-memory data set every loader returns, and a user's own torch data sets as one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np



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

    import torch

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
