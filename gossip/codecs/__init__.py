"""Lossless bitstream codecs for quantized vectors.

``DecodeError`` is the single exception type every decoder in this package raises for a
malformed, truncated, corrupted or forged message.  It subclasses ``ValueError`` so callers
that only know "bad input" keep working.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """A message could not be decoded (malformed, truncated, corrupted or out of bounds)."""


# Submodules import DecodeError from this package, so they are imported after it exists.
from . import bitio, vsc  # noqa: E402

__all__ = ["DecodeError", "bitio", "vsc"]
