"""Compressors: vector in, compressed representation (integers, scales, indices) out, and back."""

from .dithered import DitheredQuantizer, Quantized

__all__ = ["DitheredQuantizer", "Quantized"]
