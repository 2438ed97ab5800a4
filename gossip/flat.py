"""A model whose parameters live in one flat float32 buffer.

Every algorithm works on the flat vector x (a numpy view sharing memory with the torch
parameters), so updates are single vectorised operations over all d entries.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class FlatModel:
    """Wraps ``module`` so that its parameters are views into ``self.flat``."""

    def __init__(self, module: nn.Module):
        self.module = module
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.names = [n for n, p in module.named_parameters() if p.requires_grad]
        self.sizes = [p.numel() for p in self.params]
        self.size = int(sum(self.sizes))
        self.flat = torch.zeros(self.size, dtype=torch.float32)
        off = 0
        with torch.no_grad():
            for p, n in zip(self.params, self.sizes):
                self.flat[off:off + n].copy_(p.detach().reshape(-1))
                p.data = self.flat[off:off + n].view_as(p)
                off += n
        self.x = self.flat.numpy()  # shares memory with the parameters

    def gradient(self) -> np.ndarray:
        """The flat gradient after ``backward`` (a fresh float32 array)."""
        return torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel())
                          for p in self.params]).numpy()

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def load_flat(self, x: np.ndarray) -> None:
        self.x[:] = x
