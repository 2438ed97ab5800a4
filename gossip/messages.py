"""What compressors emit, codecs code and checkpoints store: the neutral message types.

Compressors produce these, codecs turn them into bytes and back, checkpoints save them; none
of those packages imports another, they all import this module.  Also the block layout of a
flat model (one block per tensor) that quantizer scales and per-tensor top-k are taken over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Blocks:
    """The tensors of a flat model: sizes, start offsets, total size."""

    sizes: np.ndarray  # int64, one per block, all positive
    starts: np.ndarray  # int64 offsets into the flat vector
    size: int

    @classmethod
    def of(cls, block_sizes) -> Blocks:
        if isinstance(block_sizes, Blocks):
            return block_sizes
        sizes = np.asarray(block_sizes, dtype=np.int64)
        if sizes.ndim != 1 or sizes.size == 0 or (sizes <= 0).any():
            raise ValueError("block_sizes must be a non-empty list of positive sizes")
        return cls(sizes, np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
                   int(sizes.sum()))

    def __len__(self) -> int:
        return int(self.sizes.size)


def entropy_bits(symbols: np.ndarray) -> float:
    """``d·H`` of the empirical histogram of integer ``symbols``, in bits (the coder's bound)."""
    v = np.asarray(symbols).reshape(-1)
    if v.size == 0:
        return 0.0
    vmin, vmax = int(v.min()), int(v.max())
    if vmax - vmin < max(1 << 16, 2 * v.size):
        counts = np.bincount((v - vmin).astype(np.intp), minlength=vmax - vmin + 1)
        vals = np.flatnonzero(counts)
        cnt = counts[vals].astype(np.int64)
    else:
        vals, cnt = np.unique(v, return_counts=True)
        cnt = cnt.astype(np.int64)
    return entropy_from_counts(cnt[np.lexsort((vals, -cnt))])  # the coder's order


def entropy_from_counts(cnt: np.ndarray) -> float:
    """``d·H`` in bits from the histogram counts (int64, in the coder's order: count desc,
    value asc), d = their sum; what :func:`entropy_bits` returns for the same symbols."""
    if cnt.size == 0:
        return 0.0
    p = cnt / int(cnt.sum())
    # the C library's log2 per distinct symbol, not np.log2: numpy's AVX-512 log2 rounds
    # differently from its other builds (which call the C library), so the same run logged
    # different figures on different CPUs
    logs = np.array([math.log2(x) for x in p.tolist()], np.float64)
    return float(-(cnt * logs).sum())


@dataclass(frozen=True)
class Quantized:
    """Integer symbols plus one float32 scale per block; the decoded value is scale·z/s."""

    symbols: np.ndarray  # int8/int16/int32 per entry, values in [-s, s]
    scales: np.ndarray  # float32, one per block (already divided by τ when scaling is on)
    levels: int

    def stats(self) -> dict:
        n = max(1, self.symbols.size)
        return {"symbol_entropy_bits": entropy_bits(self.symbols) / n}


@dataclass(frozen=True)
class Sparse:
    """Sorted int64 indices, their float32 values, and the dense size."""

    indices: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float32, same length
    size: int

    def dense(self) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.float32)
        out[self.indices] = self.values
        return out

    def add_to(self, total: np.ndarray) -> None:
        """``total[indices] += values`` (the sparse aggregate of the allgather methods)."""
        total[self.indices] += self.values

    def stats(self) -> dict:
        return {"kept": int(self.indices.size)}


@dataclass(frozen=True)
class Dense:
    """A float32 vector sent as it is."""

    values: np.ndarray  # float32

    def dense(self) -> np.ndarray:
        return self.values

    def stats(self) -> dict:
        return {}


#: Representations a checkpoint may rebuild, by class name (nothing else is instantiated).
REPRESENTATIONS = {c.__name__: c for c in (Quantized, Sparse, Dense)}
