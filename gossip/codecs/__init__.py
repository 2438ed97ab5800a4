"""Codecs: a compressed representation (:mod:`gossip.messages`) in, bytes out, and back.

``DecodeError`` is the single exception type every decoder raises for a malformed, truncated,
corrupted or forged message (a ``ValueError``).  ``REGISTRY`` maps each codec name to a factory
``(blocks, *, levels, dtype) -> codec`` and records the representation it accepts (``kind``).
"""

from __future__ import annotations


class DecodeError(ValueError):
    """A message could not be decoded (malformed, truncated, corrupted or out of bounds)."""


# Submodules import DecodeError from this package, so they are imported after it exists.
from ..messages import Dense, Quantized, Sparse  # noqa: E402
from ..registry import Registry  # noqa: E402
from . import bitio, vsc  # noqa: E402
from .qframe import QuantizedCodec  # noqa: E402
from .raw import RawCodec  # noqa: E402
from .sparse import SparseCodec  # noqa: E402

REGISTRY = Registry("codec")
REGISTRY.register("vsc", lambda blocks, *, levels, dtype, kernels="numpy", **_:
                  QuantizedCodec("vsc", levels, blocks.sizes, dtype=dtype, kernels=kernels),
                  help="vector source coding (Elias + Golomb run lengths)", kind=Quantized)
REGISTRY.register("packed", lambda blocks, *, levels, dtype, **_:
                  QuantizedCodec("packed", levels, blocks.sizes, dtype=dtype),
                  help="fixed-width symbols", kind=Quantized)
REGISTRY.register("sparse", lambda blocks, **_: SparseCodec(blocks.size),
                  help="indices in ceil(log2 d) bits + float32 values", kind=Sparse)
REGISTRY.register("raw", lambda blocks, **_: RawCodec(blocks.size), help="float32 values",
                  kind=Dense)

__all__ = ["REGISTRY", "DecodeError", "QuantizedCodec", "RawCodec", "SparseCodec", "bitio", "vsc"]
