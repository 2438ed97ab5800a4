"""The rows of the codec benchmark: VSC and its rivals as lossless codecs (encode, decode, bits),
and the symbol-table cost shared by the entropy bound and the ANS row."""

from __future__ import annotations

import lzma
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._core import vsc
from .codec_inputs import BenchInput

BOUND, CLOSED = "entropy bound", "closed form"
CODEC_ORDER = ("vsc", BOUND, CLOSED, "zstd-3", "zstd-19", "lzma", "raw bitpack", "ans")

MiB = 1024.0 * 1024.0
#: Rows that need a package from the ``bench`` extra (``pip install -e ".[bench]"``).
OPTIONAL_ROWS = {"zstd-3": "zstandard", "zstd-19": "zstandard", "ans": "constriction"}


def _importable(module: str) -> bool:
    import importlib.util

    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_codecs() -> list[str]:
    """The rows this installation can produce, in table order (the ``bench`` extra adds
    zstd and ans; the PNG needs matplotlib)."""
    return [n for n in CODEC_ORDER if n not in OPTIONAL_ROWS or _importable(OPTIONAL_ROWS[n])]



def _gamma_len(m: int) -> int:
    return 2 * (int(m).bit_length() - 1) + 1


def _zigzag(a: int) -> int:
    return 2 * a if a >= 0 else -2 * a - 1


def histogram(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct symbols sorted by count descending, ties by value, and their counts."""
    vals, cnts = np.unique(z.astype(np.int64), return_counts=True)
    order = np.lexsort((vals, -cnts))
    return vals[order], cnts[order].astype(np.int64)


def table_bits(z: np.ndarray) -> int:
    """Bits of VSC's symbol table: γ(K+1), γ(zigzag(a_k)+1) for every k, γ(n_k) for k ≥ 2."""
    vals, cnts = histogram(z)
    bits = _gamma_len(vals.size + 1)
    bits += sum(_gamma_len(_zigzag(int(a)) + 1) for a in vals)
    bits += sum(_gamma_len(int(n)) for n in cnts[1:])
    return bits


@dataclass
class Codec:
    name: str
    encode: Callable[[np.ndarray], Any]
    decode: Callable[[Any], np.ndarray]
    nbits: Callable[[Any], int]
    note: str = ""


def _bytes_codec(name, comp, decomp, note, dtype) -> Codec:
    def enc(z):
        return comp(np.ascontiguousarray(z, dtype=dtype).tobytes())

    def dec(blob):
        return np.frombuffer(decomp(blob), dtype=dtype)

    return Codec(name, enc, dec, lambda b: 8 * len(b), note)


def make_codecs(inp: BenchInput, *, with_ans: bool = True) -> list[Codec]:
    """The lossless codecs of the table, set up for one input (dtype, level count)."""
    z = inp.z
    d = z.size
    dtype = np.int8 if inp.levels <= 127 else np.int16
    codecs = [Codec("vsc", vsc.encode, lambda b: vsc.decode(b, expected_size=d),
                    lambda b: 8 * len(b), "whole message: header, CRC32, padding")]
    try:
        import zstandard
    except ImportError:  # pragma: no cover - the bench extra installs it
        zstandard = None
    if zstandard is not None:
        for level in (3, 19):
            cctx = zstandard.ZstdCompressor(level=level, threads=0)
            dctx = zstandard.ZstdDecompressor()
            codecs.append(_bytes_codec(f"zstd-{level}", cctx.compress, dctx.decompress,
                                       f"python-zstandard {zstandard.__version__}, level {level}, "
                                       f"frame header included, {np.dtype(dtype).name} input",
                                       dtype))
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 6}]
    codecs.append(_bytes_codec(
        "lzma", lambda b: lzma.compress(b, format=lzma.FORMAT_RAW, filters=filters),
        lambda b: lzma.decompress(b, format=lzma.FORMAT_RAW, filters=filters),
        f"LZMA2 preset 6, raw stream (no container), {np.dtype(dtype).name} input", dtype))
    codecs.append(_raw_bitpack(inp.levels, d))
    if with_ans:
        ans = _ans_codec(z, d)
        if ans is not None:
            codecs.append(ans)
    return codecs


def _raw_bitpack(s: int, d: int) -> Codec:
    w = max(1, math.ceil(math.log2(2 * s + 1)))
    if w > 16:
        raise ValueError(f"raw bitpack supports |z| <= 32767, got s={s}")
    if w <= 8:
        def enc(z):
            u = (z.astype(np.int16) + s).astype(np.uint8)
            return np.packbits(np.unpackbits(u[:, None], axis=1)[:, 8 - w:]).tobytes()

        def dec(blob):
            bits = np.unpackbits(np.frombuffer(blob, np.uint8), count=d * w).reshape(d, w)
            full = np.zeros((d, 8), np.uint8)
            full[:, 8 - w:] = bits
            return np.packbits(full, axis=1).reshape(-1).astype(np.int16) - s
    else:
        def enc(z):
            u = (z.astype(np.int32) + s).astype(">u2")
            bits = np.unpackbits(u.view(np.uint8).reshape(-1, 2), axis=1)[:, 16 - w:]
            return np.packbits(bits).tobytes()

        def dec(blob):
            bits = np.unpackbits(np.frombuffer(blob, np.uint8), count=d * w).reshape(d, w)
            full = np.zeros((d, 16), np.uint8)
            full[:, 16 - w:] = bits
            return np.packbits(full, axis=1).view(">u2").reshape(-1).astype(np.int32) - s
    return Codec("raw bitpack", enc, dec, lambda b: d * w,
                 f"fixed width {w} bits = ceil(log2(2s+1)), s={s}; no header")


def _ans_codec(z: np.ndarray, d: int) -> Codec | None:
    try:
        import constriction
    except ImportError:  # pragma: no cover - the bench extra installs it
        return None
    tbits = table_bits(z)

    def model_from(counts: np.ndarray):
        return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)

    def enc(z):
        z32 = z.astype(np.int32)
        lo = int(z32.min())
        counts = np.bincount(z32 - lo)
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse((z32 - lo).astype(np.int32), model_from(counts))
        return lo, counts, coder.get_compressed()

    def dec(blob):
        lo, counts, words = blob  # the receiver rebuilds the model from the sent table
        coder = constriction.stream.stack.AnsCoder(words)
        return coder.decode(model_from(counts), d) + lo

    return Codec("ans", enc, dec, lambda b: 32 * b[2].size + tbits,
                 "constriction AnsCoder, categorical model of the empirical histogram; "
                 "bits = 32-bit words + the symbol-table cost (model included)")
