"""Sparsifiers: top-k and rand-k per tensor, top-k over a given count, magnitude threshold.

Output: :class:`~gossip.messages.Sparse` (sorted int64 indices, float32 values, dense size).
Pure numpy.
"""

from __future__ import annotations

import numpy as np

from ..messages import Blocks, Sparse


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


def _ratio(ratio: float, what: str) -> float:
    if not 0 < ratio <= 1:
        raise ValueError(f"{what} ratio must be in (0, 1], got {ratio}")
    return float(ratio)


class TopK:
    """Keep the largest-magnitude ``ratio`` fraction of each tensor (at least 1 entry), or,
    with ``k=`` given to :meth:`compress`, the k largest of the whole vector."""

    kind = Sparse

    def __init__(self, block_sizes, ratio: float):
        self.blocks = Blocks.of(block_sizes)
        self.size = self.blocks.size
        self.ks = per_block_k(self.blocks.sizes, _ratio(ratio, "top-k"))
        self._whole = np.zeros(1, dtype=np.int64), np.array([self.size], dtype=np.int64)

    def compress(self, v: np.ndarray, rng=None, k: int | None = None) -> Sparse:
        if k is None:
            idx = top_k_indices(v, self.blocks.starts, self.blocks.sizes, self.ks)
        else:
            idx = top_k_indices(v, *self._whole, np.array([k], dtype=np.int64))
        return Sparse(idx, v[idx].astype(np.float32), self.size)

    def decompress(self, rep: Sparse, aux=None) -> np.ndarray:
        return rep.dense()


class RandK:
    """Keep ``ratio`` of each tensor's entries uniformly at random; ``unbiased`` scales them
    by numel/k."""

    kind = Sparse

    def __init__(self, block_sizes, ratio: float, unbiased: bool = False):
        self.blocks = Blocks.of(block_sizes)
        self.size = self.blocks.size
        self.ks = per_block_k(self.blocks.sizes, _ratio(ratio, "rand-k"))
        self.unbiased = unbiased

    def compress(self, v: np.ndarray, rng: np.random.Generator) -> Sparse:
        b = self.blocks
        idx = np.sort(np.concatenate([s + rng.choice(n, size=int(k), replace=False)
                                      for s, n, k in zip(b.starts, b.sizes, self.ks)]))
        vals = v[idx].astype(np.float32)
        if self.unbiased:
            vals *= np.repeat((b.sizes / self.ks).astype(np.float32), self.ks)
        return Sparse(idx.astype(np.int64), vals, self.size)

    def decompress(self, rep: Sparse, aux=None) -> np.ndarray:
        return rep.dense()


class Threshold:
    """Keep the entries with |v_k| > τ_k (GD-SEC's rule); τ is given per call."""

    kind = Sparse

    def __init__(self, block_sizes):
        self.size = Blocks.of(block_sizes).size

    def compress(self, v: np.ndarray, rng=None, tau: np.ndarray | float = 0.0) -> Sparse:
        idx = np.flatnonzero(np.abs(v) > tau).astype(np.int64)
        return Sparse(idx, v[idx].astype(np.float32), v.size)

    def decompress(self, rep: Sparse, aux=None) -> np.ndarray:
        return rep.dense()
