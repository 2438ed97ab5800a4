"""Minibatches of one rank's shard."""

from __future__ import annotations

import numpy as np
import torch


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
