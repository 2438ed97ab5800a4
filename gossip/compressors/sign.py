"""Sign with norm (docs/algorithms.md §2.4): v̂ = (||v_B||_1/d_B)·sign(v) per tensor, as a
:class:`Quantized` with one level (symbols in {-1, 0, 1})."""

from __future__ import annotations

import numpy as np

from ..messages import Blocks, Quantized


class SignNorm:
    kind = Quantized

    def __init__(self, block_sizes):
        blocks = Blocks.of(block_sizes)
        self.block_sizes, self.starts, self.size = blocks.sizes, blocks.starts, blocks.size
        self.levels = 1
        self.dtype = np.int8

    def compress(self, v: np.ndarray, rng=None) -> Quantized:
        v = np.asarray(v, dtype=np.float32)
        scales = (np.add.reduceat(np.abs(v).astype(np.float64), self.starts)
                  / self.block_sizes).astype(np.float32)
        return Quantized(symbols=np.sign(v).astype(np.int8), scales=scales, levels=1)

    def decompress(self, q: Quantized, aux=None) -> np.ndarray:
        return q.symbols.astype(np.float32) * np.repeat(q.scales, self.block_sizes)
