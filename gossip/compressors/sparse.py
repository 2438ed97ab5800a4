"""Sparsifiers (ALGORITHMS.md §1.3): top-k, rand-k and magnitude threshold, per tensor.

Output: :class:`Sparse` (sorted int64 indices, float32 values, dense size).  Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sparse:
    indices: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float32, same length
    size: int

    def dense(self) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.float32)
        out[self.indices] = self.values
        return out


@dataclass(frozen=True)
class Dense:
    values: np.ndarray  # float32

    def dense(self) -> np.ndarray:
        return self.values


def _blocks(block_sizes) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.asarray(block_sizes, dtype=np.int64)
    if sizes.ndim != 1 or sizes.size == 0 or (sizes <= 0).any():
        raise ValueError("block_sizes must be a non-empty list of positive sizes")
    return sizes, np.concatenate([[0], np.cumsum(sizes)[:-1]])


def per_block_k(block_sizes, ratio: float) -> np.ndarray:
    """max(1, floor(ratio·numel)) entries kept per tensor."""
    sizes = np.asarray(block_sizes, dtype=np.int64)
    return np.maximum(1, np.floor(ratio * sizes).astype(np.int64))


def top_k_indices(v: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Indices of the ks[b] largest |v| in each block b (sorted)."""
    out = []
    a = np.abs(v)
    for s, n, k in zip(starts, sizes, ks):  # a loop over tensors, not entries
        k = int(min(k, n))
        blk = a[s:s + n]
        idx = np.argpartition(blk, n - k)[n - k:] if k < n else np.arange(n)
        out.append(idx + s)
    return np.sort(np.concatenate(out)).astype(np.int64)


class TopK:
    """Keep the largest-magnitude ``ratio`` fraction of each tensor (at least 1 entry)."""

    kind = Sparse

    def __init__(self, block_sizes, ratio: float):
        if not 0 < ratio <= 1:
            raise ValueError(f"top-k ratio must be in (0, 1], got {ratio}")
        self.sizes, self.starts = _blocks(block_sizes)
        self.size = int(self.sizes.sum())
        self.ks = per_block_k(self.sizes, ratio)

    def compress(self, v: np.ndarray, rng=None) -> Sparse:
        idx = top_k_indices(v, self.starts, self.sizes, self.ks)
        return Sparse(idx, v[idx].astype(np.float32), self.size)

    def decompress(self, rep: Sparse, aux=None) -> np.ndarray:
        return rep.dense()


class RandK:
    """Keep ``ratio`` of each tensor's entries uniformly at random; ``unbiased`` scales them
    by numel/k (ALGORITHMS.md §1.3)."""

    kind = Sparse

    def __init__(self, block_sizes, ratio: float, unbiased: bool = False):
        if not 0 < ratio <= 1:
            raise ValueError(f"rand-k ratio must be in (0, 1], got {ratio}")
        self.sizes, self.starts = _blocks(block_sizes)
        self.size = int(self.sizes.sum())
        self.ks = per_block_k(self.sizes, ratio)
        self.unbiased = unbiased

    def compress(self, v: np.ndarray, rng: np.random.Generator) -> Sparse:
        idx = np.sort(np.concatenate([s + rng.choice(n, size=int(k), replace=False)
                                      for s, n, k in zip(self.starts, self.sizes, self.ks)]))
        vals = v[idx].astype(np.float32)
        if self.unbiased:
            vals *= np.repeat((self.sizes / self.ks).astype(np.float32), self.ks)
        return Sparse(idx.astype(np.int64), vals, self.size)

    def decompress(self, rep: Sparse, aux=None) -> np.ndarray:
        return rep.dense()


def threshold(v: np.ndarray, tau: np.ndarray | float) -> Sparse:
    """Keep the entries with |v_k| > τ_k (GD-SEC's rule)."""
    idx = np.flatnonzero(np.abs(v) > tau).astype(np.int64)
    return Sparse(idx, v[idx].astype(np.float32), v.size)


class Identity:
    """No compression: the float32 vector itself."""

    kind = Dense

    def __init__(self, block_sizes=None):
        pass

    def compress(self, v: np.ndarray, rng=None) -> Dense:
        return Dense(np.asarray(v, dtype=np.float32).copy())

    def decompress(self, rep: Dense, aux=None) -> np.ndarray:
        return rep.values
