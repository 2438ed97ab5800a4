"""Dithered quantization to integer symbols (docs/algorithms.md §2.1).

For each block B (here: each model tensor) with scale σ_B (max |v| or ||v||_2 over the block)
and i.i.d. dither u ~ U[0,1):

    z_k = sign(v_k) · floor(s·|v_k|/σ_B + u_k)  ∈ {−s..s}
    v̂_k = σ_B · z_k / s   (divided by τ = 1 + min(d_B/s², √d_B/s) with ``tau_scaling``)

Adding the dither and flooring is stochastic rounding, so v̂ is unbiased (without τ scaling).

``subtractive=True`` (an EXTENSION beyond the paper, docs/algorithms.md §2.1): z_k = floor(s·v_k/σ_B
+ u_k) and the receiver, which regenerates the same u from a shared seed, decodes
v̂_k = σ_B·(z_k − u_k + ½)/s.  The error is then uniform on ±σ_B/(2s) and independent of v; no
extra bits are sent, but every entry (also z_k = 0) decodes to a non-zero value.
Pure numpy: no MPI, no bytes.  The scale sent on the wire is σ_B (or σ_B/τ) as float32, and
:func:`dequantize` is the one function both the sender and the receivers use, so every
holder of a public copy adds bit-identical values.
"""

from __future__ import annotations

import numpy as np

from ..messages import Blocks, Quantized


class DitheredQuantizer:
    """Quantizer with ``levels`` s, one scale per block given by ``block_sizes``.

    norm: "inf" (σ = max|v|: converges for any γ measured, ~1.5-2 bits per entry) or "l2"
    (σ = ||v||_2; converges only with ``tau_scaling`` and a small γ, docs/algorithms.md §2.1, at
    ~0.47 bits per entry: Malcom-PSGD's default).
    """

    def __init__(self, block_sizes: list[int] | tuple[int, ...], levels: int, norm: str = "inf",
                 tau_scaling: bool = False, subtractive: bool = False):
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        if norm not in ("inf", "l2"):
            raise ValueError(f"norm must be 'inf' or 'l2', got {norm!r}")
        blocks = Blocks.of(block_sizes)
        sizes = blocks.sizes
        self.levels = int(levels)
        self.norm = norm
        self.tau_scaling = bool(tau_scaling)
        self.subtractive = bool(subtractive)
        self.block_sizes, self.starts, self.size = sizes, blocks.starts, blocks.size
        s = float(levels)
        tau = 1.0 + np.minimum(sizes / s**2, np.sqrt(sizes) / s)
        self.tau = tau if tau_scaling else np.ones_like(tau)
        self.dtype = np.int8 if levels <= 127 else (np.int16 if levels <= 32767 else np.int32)

    def block_norms(self, v: np.ndarray) -> np.ndarray:
        if self.norm == "inf":
            return np.maximum.reduceat(np.abs(v), self.starts).astype(np.float64)
        v64 = v.astype(np.float64)
        return np.sqrt(np.add.reduceat(v64 * v64, self.starts))

    kind = Quantized

    # -- the generic compressor interface (see gossip.channel) ------------------------------
    # a compiled ``kernel(q, v, rng)`` with the same result as ``quantize(v, dither(rng))``
    # (gossip.kernels' quantize, set by the Channel with --kernels compiled), or None: numpy
    kernel = None

    def compress(self, v: np.ndarray, rng: np.random.Generator) -> Quantized:
        if self.kernel is not None:
            return self.kernel(self, v, rng)
        return self.quantize(v, self.dither(rng))

    def receiver_aux(self, rng: np.random.Generator) -> np.ndarray | None:
        """What a receiver regenerates to decode: the dither, in subtractive mode only."""
        return self.dither(rng) if self.subtractive else None

    def decompress(self, q: Quantized, aux: np.ndarray | None = None) -> np.ndarray:
        return self.dequantize(q, aux)

    def dither(self, rng: np.random.Generator) -> np.ndarray:
        """The d uniforms u ~ U[0,1) one quantization uses (float32)."""
        return rng.random(self.size, dtype=np.float32)

    def quantize(self, v: np.ndarray, rng: np.random.Generator | np.ndarray) -> Quantized:
        """Quantize ``v`` with dither from ``rng`` (a Generator, or the uniforms themselves)."""
        v = np.asarray(v, dtype=np.float32)
        if v.shape != (self.size,):
            raise ValueError(f"expected a vector of {self.size} entries, got shape {v.shape}")
        sigma = self.block_norms(v).astype(np.float32)
        s = np.float32(self.levels)
        safe = np.where(sigma > 0, sigma, np.float32(1.0)).astype(np.float32)
        u = rng if isinstance(rng, np.ndarray) else self.dither(rng)
        if self.subtractive:
            x = v * np.repeat(s / safe, self.block_sizes)
            z = np.clip(np.floor(x + u), -s, s).astype(self.dtype)
        else:
            ratio = np.abs(v) * np.repeat(s / safe, self.block_sizes)
            mag = np.floor(ratio + u)
            np.minimum(mag, s, out=mag)  # guards float rounding at |v| = σ
            z = (np.sign(v) * mag).astype(self.dtype)
        scales = (sigma.astype(np.float64) / self.tau).astype(np.float32)
        return Quantized(symbols=z, scales=scales, levels=self.levels)

    def dequantize(self, q: Quantized, u: np.ndarray | None = None) -> np.ndarray:
        """scale·z/s as float32 (scale·(z − u + ½)/s when subtractive; pass the sender's u),
        the same arithmetic on every rank."""
        if q.symbols.shape != (self.size,) or q.scales.shape != self.block_sizes.shape:
            raise ValueError("quantized message does not match this model's layout")
        step = np.repeat((q.scales / np.float32(q.levels)).astype(np.float32), self.block_sizes)
        z = q.symbols.astype(np.float32)
        if self.subtractive:
            if u is None:
                raise ValueError("subtractive dither: dequantize needs the sender's dither u")
            live = np.repeat(q.scales > 0, self.block_sizes)  # an all-zero block stays zero
            return np.where(live, (z - u + np.float32(0.5)) * step, np.float32(0))
        return z * step
