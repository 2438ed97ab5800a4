"""Compressors: vector in, compressed representation (integers, scales, indices) out, and back.

``REGISTRY`` maps each name to a factory ``(blocks, **options) -> compressor`` and records the
representation it produces (``kind``), which is how a codec is checked to fit.  Options a
compressor does not use are ignored by its factory.
"""

from __future__ import annotations

from ..messages import Dense, Quantized, Sparse
from ..registry import Registry
from .dithered import DitheredQuantizer
from .identity import Identity
from .memory import ErrorMemory
from .sign import SignNorm
from .sparse import RandK, Threshold, TopK

REGISTRY = Registry("compressor")
REGISTRY.register(
    "dithered", lambda blocks, *, levels=16, norm="l2", tau_scaling=False, subtractive=False, **_:
    DitheredQuantizer(blocks, levels, norm=norm, tau_scaling=tau_scaling, subtractive=subtractive),
    help="dithered quantization to {-s..s} with one scale per tensor", kind=Quantized)
REGISTRY.register(  # QSGD = the dithered quantizer with the l2 scale
    "qsgd", lambda blocks, *, levels=16, tau_scaling=False, subtractive=False, **_:
    DitheredQuantizer(blocks, levels, norm="l2", tau_scaling=tau_scaling, subtractive=subtractive),
    help="QSGD: dithered quantization with the l2 scale", kind=Quantized)
REGISTRY.register("sign", lambda blocks, **_: SignNorm(blocks),
                  help="sign with the mean |v| per tensor", kind=Quantized)
REGISTRY.register("topk", lambda blocks, *, ratio=0.01, **_: TopK(blocks, ratio),
                  help="largest-magnitude --ratio of each tensor", kind=Sparse)
REGISTRY.register("randk", lambda blocks, *, ratio=0.01, unbiased=False, **_:
                  RandK(blocks, ratio, unbiased=unbiased),
                  help="random --ratio of each tensor", kind=Sparse)
REGISTRY.register("identity", lambda blocks, **_: Identity(blocks), help="no compression",
                  kind=Dense)

__all__ = ["REGISTRY", "DitheredQuantizer", "ErrorMemory", "Identity", "Quantized", "RandK",
           "SignNorm", "Threshold", "TopK"]
