"""A channel = one compressor + one codec + seeded randomness: a vector becomes bytes on the
sender, and the bytes become the same decoded vector on every receiver.

The compressor and the codec know nothing of each other; the registries record which
representation each produces or accepts (``kind``), and a pair that does not fit is a
configuration error (:func:`check_pair`).  Randomness (dither, rand-k selection) comes from a
generator derived from (seed, sender, round[, stream]), so receivers can regenerate what they
need (subtractive dither) and runs are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import codecs, compressors
from .messages import Blocks, Quantized, entropy_from_counts
from .rng import numpy_rng


def fitting_codecs(compressor: str) -> list[str]:
    kind = compressors.REGISTRY[compressor].meta["kind"]
    return [c for c in codecs.REGISTRY if codecs.REGISTRY[c].meta["kind"] is kind]


def check_pair(compressor: str, codec: str) -> None:
    """ValueError (naming what fits) unless ``codec`` accepts what ``compressor`` produces."""
    if compressor not in compressors.REGISTRY:
        raise ValueError(f"unknown compressor {compressor!r}; accepted: "
                         f"{', '.join(compressors.REGISTRY)}")
    if codec not in codecs.REGISTRY:
        raise ValueError(f"unknown codec {codec!r}; accepted: {', '.join(codecs.REGISTRY)}")
    if codec not in fitting_codecs(compressor):
        raise ValueError(f"codec {codec!r} does not fit compressor {compressor!r}; use one of: "
                         f"{', '.join(fitting_codecs(compressor))}")


@dataclass
class Sent:
    """What the sender knows after encoding: the bytes, and the values every receiver decodes."""

    message: bytes
    decoded: np.ndarray | None  # float32, bit-identical to what receivers get (None: not needed)
    rep: object
    symbol_entropy_bits: float = float("nan")  # per entry, for quantized representations
    kept: int = -1  # entries sent, for sparse representations


class Channel:
    def __init__(self, compressor, codec, seed: int, purpose: str = "compress"):
        self.compressor, self.codec, self.seed, self.purpose = compressor, codec, seed, purpose

    @classmethod
    def build(cls, compressor: str, codec: str, block_sizes, seed: int, kernels: str = "numpy",
              **options) -> Channel:
        """Compressor and codec by registry name; ``options`` go to the compressor factory;
        ``kernels`` picks the codec's and the quantizer's implementation
        (:func:`gossip.kernels.select`; bit-identical either way)."""
        check_pair(compressor, codec)
        blocks = Blocks.of(block_sizes)
        comp = compressors.REGISTRY.build(compressor, blocks, **options)
        cod = codecs.REGISTRY.build(codec, blocks, levels=getattr(comp, "levels", 1),
                                    dtype=getattr(comp, "dtype", np.int8), kernels=kernels)
        if kernels != "numpy" and hasattr(comp, "kernel"):  # a compressor with a compiled twin
            from .kernels import select

            k = select(kernels)
            if k.mode == "compiled":
                comp.kernel = k.quantize
        return cls(comp, cod, seed=seed)

    def _rng(self, sender: int, round_: int, stream: int) -> np.random.Generator:
        extra = (stream,) if stream else ()
        return numpy_rng(self.seed, sender, self.purpose, round_, *extra)

    def _aux(self, sender: int, round_: int, stream: int = 0):
        f = getattr(self.compressor, "receiver_aux", None)
        return f(self._rng(sender, round_, stream)) if f else None

    def send(self, v: np.ndarray, sender: int, round_: int, stream: int = 0, *,
             decode: bool = True, **options) -> Sent:
        """Compress and encode ``v``; ``stream`` separates the random draws of several
        messages one sender composes in a round (per-edge streams); ``options`` go to the
        compressor (e.g. ``k=``, ``tau=``); ``decode=False`` skips the dense decoded copy."""
        rep = self.compressor.compress(v, self._rng(sender, round_, stream), **options)
        msg = self.codec.encode(rep)
        decoded = self.compressor.decompress(rep, self._aux(sender, round_, stream)) if decode else None
        counts = getattr(self.codec, "last_counts", None)
        # the entropy from the histogram the coder built, else one more pass (rep.stats())
        stats = ({"symbol_entropy_bits": entropy_from_counts(counts) / max(1, int(counts.sum()))}
                 if counts is not None and isinstance(rep, Quantized) else rep.stats())
        return Sent(msg, decoded, rep, symbol_entropy_bits=stats.get("symbol_entropy_bits",
                                                                     float("nan")),
                    kept=stats.get("kept", -1))

    def receive_rep(self, message: bytes):
        """A neighbour's message as its representation (DecodeError if malformed)."""
        return self.codec.decode(message)

    def receive(self, message: bytes, sender: int, round_: int, stream: int = 0) -> np.ndarray:
        """Decode a neighbour's message (DecodeError if malformed) to its float32 vector."""
        return self.compressor.decompress(self.receive_rep(message),
                                          self._aux(sender, round_, stream))
