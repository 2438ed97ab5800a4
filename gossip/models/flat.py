"""A model whose parameters live in one flat float32 buffer.

Every algorithm works on the flat vector x (a numpy view sharing memory with the torch
parameters), so updates are single vectorised operations over all d entries.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class FlatModel:
    """Wraps ``module`` so that its parameters are views into ``self.flat``.

    On a GPU the parameters live in a device buffer and ``self.x`` is the host (numpy) copy the
    algorithms and codecs work on; :meth:`sync` copies x to the device before each forward.
    """

    def __init__(self, module: nn.Module, device: str | torch.device = "cpu",
                 host_copy: bool | None = None):
        """``host_copy``: keep x apart from the parameters (default: exactly when the device is
        not the CPU; forcing it on the CPU exercises the GPU code path in tests)."""
        self.device = torch.device(device)
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
        self.x = self.flat.numpy()  # shares memory with the parameters (on the CPU)
        self.on_device = self.device.type != "cpu" if host_copy is None else bool(host_copy)
        if self.on_device:
            self.module.to(self.device)  # buffers (BatchNorm statistics) too
            self.dev_flat = self.flat.to(self.device, copy=True)
            off = 0
            for p, n in zip(self.params, self.sizes):
                p.data = self.dev_flat[off:off + n].view_as(p)
                off += n

    def sync(self) -> None:
        """Make the device parameters equal the host vector x (no-op on the CPU)."""
        if self.on_device:
            self.dev_flat.copy_(torch.from_numpy(self.x))

    def gradient(self) -> np.ndarray:
        """The flat gradient after ``backward`` (a fresh float32 array)."""
        return torch.cat([p.grad.reshape(-1) if p.grad is not None
                          else torch.zeros(p.numel(), device=p.device)
                          for p in self.params]).cpu().numpy()

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def load_flat(self, x: np.ndarray) -> None:
        self.x[:] = x
