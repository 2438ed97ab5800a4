"""Models, built from the run seed so every rank starts from the same x⁰, and the flat view
of their parameters the algorithms work on.

``REGISTRY`` maps each ``--model`` name to a builder ``(in_features, classes, hidden, seed,
in_shape) -> nn.Module``; ``image`` says whether it needs image data.
"""

from __future__ import annotations

from ..registry import Registry

REGISTRY = Registry("model")


def __getattr__(name):  # FlatModel imports torch: only when used (not for --help or choices)
    if name == "FlatModel":
        from .flat import FlatModel

        return FlatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _linear(name):
    def build(in_features, classes, hidden=64, seed=0, in_shape=None):
        from .mlp import build_linear_model

        return build_linear_model(name, in_features, classes, hidden=hidden, seed=seed,
                                  in_shape=in_shape)

    return build


def _vision(name):
    def build(in_features, classes, hidden=64, seed=0, in_shape=None):
        from .vision import build_vision_model

        return build_vision_model(name, in_shape, classes, seed=seed)

    return build


REGISTRY.register("logreg", _linear("logreg"), help="linear", image=False)
REGISTRY.register("mlp", _linear("mlp"), help="one hidden ReLU layer (--hidden)", image=False)
REGISTRY.register("cnn", _vision("cnn"), help="small convolutional net", image=True)
REGISTRY.register("resnet18", _vision("resnet18"), help="CIFAR-style ResNet-18", image=True)


def build_model(name: str, in_features: int, classes: int, hidden: int = 64,
                seed: int = 0, in_shape: tuple[int, ...] | None = None):
    """``logreg``, ``mlp``, or the image models ``cnn`` / ``resnet18`` (need ``in_shape`` =
    (C, H, W))."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; accepted: {', '.join(REGISTRY)}")
    return REGISTRY.build(name, in_features, classes, hidden=hidden, seed=seed, in_shape=in_shape)


__all__ = ["REGISTRY", "FlatModel", "build_model"]
