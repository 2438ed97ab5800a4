"""The linear models: ``logreg`` and ``mlp`` (one hidden ReLU layer), seeded."""

from __future__ import annotations

import torch
from torch import nn

from ..rng import torch_generator


def build_linear_model(name: str, in_features: int, classes: int, hidden: int = 64,
                       seed: int = 0, in_shape: tuple[int, ...] | None = None) -> nn.Module:
    """``logreg`` (one linear layer) or ``mlp`` (in → hidden → classes, ReLU)."""
    flat = in_shape is not None and len(in_shape) > 1
    if name == "logreg":
        model = nn.Linear(in_features, classes)
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes))
    else:
        raise ValueError(f"unknown model {name!r}; accepted: logreg, mlp")
    g = torch_generator(seed, -1, "model-init")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features ** 0.5
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    if flat:  # image arrays (N, C, H, W) into the linear models
        return nn.Sequential(nn.Flatten(), model)
    return model
