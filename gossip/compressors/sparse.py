"""Sparsifiers: top-k (per tensor or over the whole model) and rand-k per tensor, magnitude threshold.

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


def split_k(k: int, block_sizes) -> np.ndarray:
    """k entries spread over the tensors in proportion to their sizes n_b, summing to k: each
    gets floor(k·n_b/d), and the few left over go one each to the tensors with the largest
    remainders (ties to the earlier tensor).  Exact integer arithmetic; k_b <= n_b for k <= d."""
    sizes = np.asarray(block_sizes, dtype=np.int64)
    scaled = int(k) * sizes
    ks = scaled // sizes.sum()
    short = int(k) - int(ks.sum())
    if short > 0:
        ks[np.argsort(-(scaled - ks * sizes.sum()), kind="stable")[:short]] += 1
    return ks


def top_k_indices(v: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Indices of the ks[b] largest |v| in each block b (sorted)."""
    out = [np.zeros(0, dtype=np.int64)]
    a = np.abs(v)
    for s, n, k in zip(starts, sizes, ks):  # a loop over tensors, not entries
        k = int(min(k, n))
        if k <= 0:
            continue
        blk = a[s:s + n]
        idx = np.argpartition(blk, n - k)[n - k:] if k < n else np.arange(n)
        out.append(idx + s)
    return np.sort(np.concatenate(out)).astype(np.int64)


def _ratio(ratio: float, what: str) -> float:
    if not 0 < ratio <= 1:
        raise ValueError(f"{what} ratio must be in (0, 1], got {ratio}")
    return float(ratio)


SCOPES = ("model", "tensor")


class TopK:
    """Keep the largest-magnitude entries: K = Σ_b max(1, ⌊ratio·n_b⌋), or the ``k=`` given
    to :meth:`compress`.  ``scope`` "tensor": per tensor (ratio of each, or k split over the
    tensors by :func:`split_k`); "model": the K largest of the whole vector."""

    kind = Sparse

    def __init__(self, block_sizes, ratio: float, scope: str = "tensor"):
        if scope not in SCOPES:
            raise ValueError(f"top-k scope must be 'model' or 'tensor', got {scope!r}")
        self.blocks = Blocks.of(block_sizes)
        self.size = self.blocks.size
        self.ks = per_block_k(self.blocks.sizes, _ratio(ratio, "top-k"))
        self.scope = scope
        self._whole = np.zeros(1, dtype=np.int64), np.array([self.size], dtype=np.int64)

    def compress(self, v: np.ndarray, rng=None, k: int | None = None) -> Sparse:
        b = self.blocks
        if self.scope == "tensor":
            ks = self.ks if k is None else split_k(k, b.sizes)
            idx = top_k_indices(v, b.starts, b.sizes, ks)
        else:
            total = int(self.ks.sum()) if k is None else int(k)
            idx = top_k_indices(v, *self._whole, np.array([total], dtype=np.int64))
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
