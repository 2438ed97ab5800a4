"""How the training set is split across ranks: iid, Dirichlet label skew, or label shards.

Every rank computes the same split from the run seed, without communication.
"""

from __future__ import annotations

import numpy as np

from ..rng import numpy_rng

PARTITIONS = ("iid", "dirichlet", "shards")


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


def shards_by_label(labels: np.ndarray, n: int, shards_per_rank: int = 2,
                    seed: int = 0) -> list[np.ndarray]:
    """The classic "shards" non-iid split (McMahan et al., 2017).

    Sort the sample indices by label (ties in a seeded random order), cut them into
    ``n * shards_per_rank`` contiguous shards of (nearly) equal size and give each rank
    ``shards_per_rank`` shards drawn at random. The ranks' index sets are disjoint, sorted and
    cover every sample. When every shard falls inside one class (for example equal-sized
    classes and a shard count divisible by the class count), each rank sees at most
    ``shards_per_rank`` labels. Seeded with ``numpy_rng(seed, -1, "partition")``, so every
    rank computes the same split without communication.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(shards_per_rank, bool) or int(shards_per_rank) != shards_per_rank \
            or shards_per_rank < 1:
        raise ValueError(f"shards_per_rank must be a positive integer, got {shards_per_rank!r}")
    n, shards_per_rank = int(n), int(shards_per_rank)
    m, total = labels.size, n * shards_per_rank
    if total > m:
        raise ValueError(f"cannot cut {m} training samples into {n} ranks x {shards_per_rank} "
                         f"shards = {total} non-empty shards; use fewer ranks or shards per rank")
    rng = numpy_rng(seed, -1, "partition")
    shuffled = rng.permutation(m)
    order = shuffled[np.argsort(labels[shuffled], kind="stable")]
    shards = np.array_split(order, total)
    pick = rng.permutation(total)
    return [np.sort(np.concatenate([shards[s] for s in pick[r * shards_per_rank:
                                                            (r + 1) * shards_per_rank]]))
            for r in range(n)]
