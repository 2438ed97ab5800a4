"""A channel = one compressor + one codec: vector → bytes on the sender, bytes → the same
decoded vector on every receiver.

The compressor and the codec know nothing of each other; the registry below says which codecs
fit which compressor's representation, and a pair that does not fit is a configuration error.
Randomness (dither, rand-k selection) comes from a generator derived from (seed, sender, round),
so receivers can regenerate what they need (subtractive dither) and runs are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codecs.frames import QuantizedCodec, RawCodec, SparseCodec
from .codecs import vsc
from .compressors.dithered import DitheredQuantizer, Quantized
from .compressors.sign import SignNorm
from .compressors.sparse import Dense, Identity, RandK, Sparse, TopK
from .rng import numpy_rng

# compressor name → representation it produces
COMPRESSORS = {"dithered": Quantized, "qsgd": Quantized, "sign": Quantized, "topk": Sparse,
               "randk": Sparse, "identity": Dense}
# codec name → representation it accepts
CODECS = {"vsc": Quantized, "packed": Quantized, "sparse": Sparse, "raw": Dense}


def fitting_codecs(compressor: str) -> list[str]:
    return [c for c, kind in CODECS.items() if kind is COMPRESSORS[compressor]]


def check_pair(compressor: str, codec: str) -> None:
    if compressor not in COMPRESSORS:
        raise ValueError(f"unknown compressor {compressor!r}; accepted: {', '.join(COMPRESSORS)}")
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; accepted: {', '.join(CODECS)}")
    if CODECS[codec] is not COMPRESSORS[compressor]:
        raise ValueError(f"codec {codec!r} does not fit compressor {compressor!r}; use one of: "
                         f"{', '.join(fitting_codecs(compressor))}")


def build_compressor(name: str, block_sizes, *, levels: int = 16, norm: str = "l2",
                     tau_scaling: bool = False, subtractive: bool = False, ratio: float = 0.01,
                     unbiased: bool = False):
    if name == "dithered":
        return DitheredQuantizer(block_sizes, levels, norm=norm, tau_scaling=tau_scaling,
                                 subtractive=subtractive)
    if name == "qsgd":  # QSGD (§1.1) = the dithered quantizer with the l2 scale
        return DitheredQuantizer(block_sizes, levels, norm="l2", tau_scaling=tau_scaling,
                                 subtractive=subtractive)
    if name == "sign":
        return SignNorm(block_sizes)
    if name == "topk":
        return TopK(block_sizes, ratio)
    if name == "randk":
        return RandK(block_sizes, ratio, unbiased=unbiased)
    if name == "identity":
        return Identity(block_sizes)
    raise ValueError(f"unknown compressor {name!r}")


def build_codec(name: str, compressor, block_sizes):
    size = int(np.sum(block_sizes))
    if name in ("vsc", "packed"):
        return QuantizedCodec(name, compressor.levels, block_sizes, dtype=compressor.dtype)
    if name == "sparse":
        return SparseCodec(size)
    if name == "raw":
        return RawCodec(size)
    raise ValueError(f"unknown codec {name!r}")


@dataclass
class Sent:
    """What the sender knows after encoding: the bytes, and the values every receiver decodes."""

    message: bytes
    decoded: np.ndarray  # float32, bit-identical to what receivers get
    rep: object
    symbol_entropy_bits: float = float("nan")  # per entry, for quantized representations
    kept: int = -1  # entries sent, for sparse representations


class Channel:
    def __init__(self, compressor, codec, seed: int, purpose: str = "compress"):
        self.compressor, self.codec, self.seed, self.purpose = compressor, codec, seed, purpose

    def _rng(self, sender: int, round_: int, stream: int) -> np.random.Generator:
        extra = (stream,) if stream else ()
        return numpy_rng(self.seed, sender, self.purpose, round_, *extra)

    def _aux(self, sender: int, round_: int, stream: int = 0):
        f = getattr(self.compressor, "receiver_aux", None)
        return f(self._rng(sender, round_, stream)) if f else None

    def send(self, v: np.ndarray, sender: int, round_: int, stream: int = 0) -> Sent:
        """Compress and encode ``v``; ``stream`` separates the random draws of several
        messages one sender composes in a round (per-edge streams)."""
        rep = self.compressor.compress(v, self._rng(sender, round_, stream))
        msg = self.codec.encode(rep)
        decoded = self.compressor.decompress(rep, self._aux(sender, round_, stream))
        sent = Sent(msg, decoded, rep)
        if isinstance(rep, Quantized):
            sent.symbol_entropy_bits = vsc.entropy_bits(rep.symbols) / max(1, rep.symbols.size)
        elif isinstance(rep, Sparse):
            sent.kept = int(rep.indices.size)
        return sent

    def receive(self, message: bytes, sender: int, round_: int, stream: int = 0) -> np.ndarray:
        """Decode a neighbour's message (DecodeError if malformed) to its float32 vector."""
        rep = self.codec.decode(message)
        return self.compressor.decompress(rep, self._aux(sender, round_, stream))


class ErrorMemory:
    """Error feedback (§1.4): compress p = v + e, keep e ← p − decoded."""

    def __init__(self, size: int):
        self.e = np.zeros(size, dtype=np.float32)

    def compensate(self, v: np.ndarray) -> np.ndarray:
        return v + self.e

    def update(self, p: np.ndarray, decoded: np.ndarray) -> None:
        np.subtract(p, decoded, out=self.e)
