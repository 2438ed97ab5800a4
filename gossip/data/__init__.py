"""Data: the data sets (bundled digits; MNIST, Fashion-MNIST and CIFAR-10 read from disk), the
per-rank partition and the minibatch sampler.

``REGISTRY`` maps each ``--dataset`` name to a loader ``(test_fraction, seed, data_dir, limit)
-> Dataset``.
"""

from __future__ import annotations

from ..registry import Registry
from .base import Dataset, from_torch
from .partitions import PARTITIONS, partition


def __getattr__(name):  # the sampler imports torch: only when used (not for --help or choices)
    if name == "BatchSampler":
        from .sampler import BatchSampler

        return BatchSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _limited(ds: Dataset, limit: int | None) -> Dataset:
    if not limit:
        return ds
    return Dataset(ds.x_train[:limit], ds.y_train[:limit], ds.x_test[:limit], ds.y_test[:limit],
                   ds.classes, ds.name)


def _digits(test_fraction, seed, data_dir=None, limit=None):
    from .digits import load_digits_split

    return _limited(load_digits_split(test_fraction, seed), limit)


def _mnist(fashion: bool):
    def load(test_fraction, seed, data_dir=None, limit=None):
        from .files import load_mnist

        return load_mnist(data_dir, fashion=fashion, limit=limit)

    return load


def _cifar10(test_fraction, seed, data_dir=None, limit=None):
    from .files import load_cifar10

    return load_cifar10(data_dir, limit=limit)


REGISTRY = Registry("dataset")
REGISTRY.register("digits", _digits, help="scikit-learn's bundled 8x8 digits (offline)",
                  on_disk=False)
REGISTRY.register("mnist", _mnist(False), help="MNIST IDX files from --data-dir", on_disk=True)
REGISTRY.register("fashion-mnist", _mnist(True), help="Fashion-MNIST IDX files from --data-dir",
                  on_disk=True)
REGISTRY.register("cifar10", _cifar10, help="CIFAR-10 binary version from --data-dir",
                  on_disk=True)


def load_dataset(name: str, test_fraction: float, seed: int, data_dir: str | None = None,
                 limit: int | None = None) -> Dataset:
    """digits (bundled, split here) or mnist / fashion-mnist / cifar10 (their own test sets)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; accepted: {', '.join(REGISTRY)}")
    return REGISTRY.build(name, test_fraction, seed, data_dir=data_dir, limit=limit)


__all__ = ["REGISTRY", "PARTITIONS", "BatchSampler", "Dataset", "from_torch", "load_dataset",
           "partition"]
