"""Fuzz targets for the frames of :mod:`gossip.codecs.raw`, :mod:`gossip.codecs.sparse`, :mod:`gossip.codecs.qframe`: ``RawCodec`` (dense float32),
``SparseCodec`` (indices + float32 values) and ``QuantizedCodec('packed', ...)`` (a quantized
frame around a fixed-width RAW-kind VSC message).

Per target: valid seeds from the encoders, a generator of hostile messages (the format-agnostic
mutations, truncations and splices first, then CRC-re-sealed forgeries of the header, the
lengths and counts, the indices, the values and, for packed, the field width and the fields),
and the check of a decode that returned.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .._core import (BitWriter, Dense, DitheredQuantizer, QuantizedCodec, RawCodec, Sparse,
                     SparseCodec, qframe, vsc)
from .fuzz_mutators import Mutator, _plain_mutation, gen_qframe
from .fuzz_seeds import QSeed, VscSeed, leb128, read_leb128, seal, seal_qframe, split_qframe, \
    split_vsc

FRAME_VERSION = 1
#: A forged size or count larger than this keeps the seed's payload (a claim, not a buffer).
_MAX_FORGED_PAYLOAD = 1 << 16
_ODD_FLOATS = (np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, 3.4028235e38, -3.4028235e38)


# ----------------------------------------------------------------------------- envelopes


def seal_frame(body: bytes) -> bytes:
    """Independent writer of the raw/sparse envelope: body, then CRC32 of the body (LE)."""
    return body + struct.pack("<I", zlib.crc32(body))


def frame_head(magic: bytes, *counts: int, version: int = FRAME_VERSION) -> bytes:
    return magic + bytes([version & 0xFF]) + b"".join(leb128(c) for c in counts)


def split_raw(msg: bytes) -> tuple[int, np.ndarray]:
    """A *valid* raw message -> (d, float32 values), parsed independently."""
    d, pos = read_leb128(msg, 3)
    return d, np.frombuffer(msg[pos:-4], "<f4").copy()


def sparse_body(d: int, indices, values, width: int) -> bytes:
    """The sparse payload (index fields of ``width`` bits, then float32 values) after the
    header; indices are written as given, in range or not."""
    w = BitWriter()
    idx = np.asarray(indices, dtype=np.uint64)
    if idx.size:
        w.write_fields(idx, width)
    return w.to_bytes() + np.ascontiguousarray(values, dtype="<f4").tobytes()


# ----------------------------------------------------------------------------- seeds


@dataclass
class FrameSeed:
    msg: bytes
    size: int           # the receiver's model size
    rep: object         # the Dense or Sparse it encodes
    label: str


def _values(rng, n: int, style: int) -> np.ndarray:
    if style == 0:
        return rng.standard_normal(n).astype(np.float32)
    if style == 1:
        return np.zeros(n, np.float32)
    v = rng.standard_normal(n).astype(np.float32) * np.float32(1e30)
    v[::3] = np.float32(1e-40)  # subnormal
    v[1::5] = -0.0
    return v


def raw_seeds(seed: int = 0) -> list[FrameSeed]:
    rng = np.random.default_rng([seed, 3])
    out = []
    for d in (0, 1, 2, 3, 10, 127, 128, 1000, 4810, 20000):
        for style in (0, 1, 2):
            if d > 1000 and style:
                continue
            rep = Dense(_values(rng, d, style))
            out.append(FrameSeed(RawCodec(d).encode(rep), d, rep, f"raw d={d} style={style}"))
    return out


def sparse_seeds(seed: int = 0) -> list[FrameSeed]:
    rng = np.random.default_rng([seed, 4])
    out = []
    for d in (1, 2, 3, 8, 9, 100, 1000, 4810, 65537):
        for k in sorted({0, 1, min(d, 2), max(1, d // 100), max(1, d // 10), d if d <= 1000 else 1}):
            idx = np.sort(rng.choice(d, size=k, replace=False)).astype(np.int64)
            if k and d > 2 and rng.random() < 0.5:
                idx[-1] = d - 1  # the last index in range
            idx = np.unique(idx)
            rep = Sparse(idx, _values(rng, idx.size, int(rng.integers(0, 3))), d)
            out.append(FrameSeed(SparseCodec(d).encode(rep), d, rep,
                                 f"sparse d={d} k={idx.size}"))
    return out


def packed_seeds(seed: int = 0) -> list[QSeed]:
    """Quantized frames with fixed-width (RAW-kind) symbols, as ``QuantizedCodec('packed')``."""
    rng = np.random.default_rng([seed, 5])
    out = []
    for blocks in ([40, 8, 20, 2], [1000, 10], [3], [1], [256, 256, 16], [4000, 800, 10]):
        for levels, norm, tau in ((4, "l2", True), (2, "inf", False), (1, "inf", False),
                                  (16, "inf", False)):
            q = DitheredQuantizer(blocks, levels, norm=norm, tau_scaling=tau)
            v = rng.standard_normal(q.size).astype(np.float32)
            if len(blocks) == 1 and levels == 1:
                v[:] = 0.0  # all-zero: zero scale, width 0
            z = q.quantize(v, rng)
            codec = QuantizedCodec("packed", levels, q.block_sizes)
            out.append(QSeed(codec.encode(z), levels, q.block_sizes.copy(),
                             f"packed blocks={blocks} s={levels} {norm}"))
    return out


# ----------------------------------------------------------------------------- generators


def _forge_d(m: Mutator, d: int) -> int:
    return m.new_d(d) if m.r.random() < 0.7 else m.r.choice((d + 1, max(0, d - 1), 0, 2**32, 2**64))


def _odd_varint(m: Mutator, n: int) -> bytes:
    """Non-canonical or oversized LEB128 encodings of ``n`` (or of something near 2**64)."""
    r = m.r
    what = r.choice(("padded", "padded", "eleven", "huge", "unterminated"))
    if what == "padded":  # same value, trailing 0x80 ... 0x00
        b = bytearray(leb128(n))
        b[-1] |= 0x80
        return bytes(b) + b"\x80" * r.randint(0, 3) + b"\x00"
    if what == "eleven":
        return b"\xff" * 10 + b"\x01"
    if what == "huge":
        return leb128(2**64 - 1) if n >= 0 else leb128(2**63)
    return b"\x80" * r.randint(1, 12)


def gen_raw(m: Mutator, seeds: list[FrameSeed]) -> tuple[str, bytes, FrameSeed]:
    r = m.r
    s = r.choice(seeds)
    roll = r.random()
    plain = _plain_mutation(m, roll, s.msg, seeds, RawCodec.MAGIC + bytes([FRAME_VERSION]),
                            header_until=0.37, splice_until=0.40)
    if plain is not None:
        return (*plain, s)
    d, vals = split_raw(s.msg)
    if roll < 0.55:  # header fields
        what = r.choice(("d", "d", "d-resized", "version", "magic", "varint"))
        if what == "d":
            return "forge-header:d", seal_frame(frame_head(RawCodec.MAGIC, _forge_d(m, d))
                                                + vals.tobytes()), s
        if what == "d-resized":  # a consistent message for another size
            dd = _forge_d(m, d)
            body = (np.frombuffer(m.rand_bytes(4 * dd), "<f4").tobytes()
                    if dd <= _MAX_FORGED_PAYLOAD else vals.tobytes())
            return "forge-header:d-resized", seal_frame(frame_head(RawCodec.MAGIC, dd) + body), s
        if what == "version":
            v = r.choice((0, 2, 255))
            return "forge-header:version", seal_frame(
                frame_head(RawCodec.MAGIC, d, version=v) + vals.tobytes()), s
        if what == "magic":
            mg = r.choice((SparseCodec.MAGIC, qframe.MAGIC, vsc.MAGIC, b"\x00\x00"))
            return "forge-header:magic", seal_frame(frame_head(mg, d) + vals.tobytes()), s
        return "forge-header:varint", seal_frame(RawCodec.MAGIC + bytes([FRAME_VERSION])
                                                 + _odd_varint(m, d) + vals.tobytes()), s
    if roll < 0.80:  # values
        v = vals.copy()
        if v.size and r.random() < 0.6:
            for _ in range(r.choice((1, 1, 2, 5))):
                v[r.randrange(v.size)] = r.choice(_ODD_FLOATS)
            label = "forge-values:odd"
        else:
            v = np.frombuffer(m.rand_bytes(4 * v.size), "<f4")
            label = "forge-values:random"
        return label, seal_frame(frame_head(RawCodec.MAGIC, d) + v.tobytes()), s
    # lengths: value bytes cut or extended, checksum recomputed
    body = vals.tobytes()
    cut = r.choice((1, 2, 3, 4, 5, 8))
    body = body[:-cut] if r.random() < 0.5 and body else body + m.rand_bytes(cut)
    return "forge-length", seal_frame(frame_head(RawCodec.MAGIC, d) + body), s


def _forge_indices(m: Mutator, idx: np.ndarray, d: int, width: int) -> tuple[str, np.ndarray]:
    r = m.r
    idx = idx.copy()
    top = (1 << width) - 1
    op = r.choice(("dup", "swap", "out", "top", "decrease", "shift"))
    if idx.size == 0:
        return "none", idx
    i = r.randrange(idx.size)
    if op == "dup" and idx.size > 1:
        j = min(i + 1, idx.size - 1)
        idx[j] = idx[j - 1] if j else idx[j]
    elif op == "swap" and idx.size > 1:
        j = r.randrange(idx.size)
        idx[i], idx[j] = idx[j], idx[i]
    elif op == "out":
        idx[i] = min(top, d + r.choice((0, 0, 1, 7)))
    elif op == "top":
        idx[-1] = top
    elif op == "decrease":
        idx[i] = max(0, int(idx[i]) - r.choice((1, 2, 100)))
    else:
        idx = np.minimum(idx + r.choice((1, -1, 2)), top).clip(0)
    return op, idx


def gen_sparse(m: Mutator, seeds: list[FrameSeed]) -> tuple[str, bytes, FrameSeed]:
    r = m.r
    s = r.choice(seeds)
    roll = r.random()
    magic = SparseCodec.MAGIC
    plain = _plain_mutation(m, roll, s.msg, seeds, magic + bytes([FRAME_VERSION]),
                            header_until=0.37, splice_until=0.40)
    if plain is not None:
        return (*plain, s)
    rep: Sparse = s.rep
    d, k = s.size, int(rep.indices.size)
    width = SparseCodec(d).width
    body = sparse_body(d, rep.indices, rep.values, width)
    if roll < 0.55:  # header fields: sizes, counts, version, magic, varints
        what = r.choice(("d", "k", "k", "k-consistent", "version", "magic", "varint"))
        if what == "d":
            return "forge-header:d", seal_frame(frame_head(magic, _forge_d(m, d), k) + body), s
        if what == "k":  # a count the payload does not carry
            kk = r.choice((k + 1, max(0, k - 1), d, d + 1, 2 * k + 1, 2**31, 2**40, 2**63))
            return "forge-header:k", seal_frame(frame_head(magic, d, kk) + body), s
        if what == "k-consistent":  # another count with a payload of exactly that length
            kk = r.choice((0, 1, k + 1, max(0, k - 1), d, max(0, d - 1)))
            kk = min(kk, _MAX_FORGED_PAYLOAD)
            if r.random() < 0.5 and kk <= d:  # valid, increasing indices
                idx = np.sort(np.random.default_rng(r.getrandbits(32)).choice(
                    d, size=kk, replace=False))
            else:
                idx = np.frombuffer(m.rand_bytes(8 * kk), np.uint64) & np.uint64((1 << width) - 1)
            vals = np.frombuffer(m.rand_bytes(4 * kk), "<f4")
            return "forge-header:k-consistent", seal_frame(
                frame_head(magic, d, kk) + sparse_body(d, idx, vals, width)), s
        if what == "version":
            return "forge-header:version", seal_frame(
                frame_head(magic, d, k, version=r.choice((0, 2, 255))) + body), s
        if what == "magic":
            mg = r.choice((RawCodec.MAGIC, qframe.MAGIC, vsc.MAGIC))
            return "forge-header:magic", seal_frame(frame_head(mg, d, k) + body), s
        if r.random() < 0.5:
            head = magic + bytes([FRAME_VERSION]) + _odd_varint(m, d) + leb128(k)
        else:
            head = magic + bytes([FRAME_VERSION]) + leb128(d) + _odd_varint(m, k)
        return "forge-header:varint", seal_frame(head + body), s
    if roll < 0.75:  # indices: duplicates, order, out of range
        op, idx = _forge_indices(m, rep.indices, d, width)
        return f"forge-indices:{op}", seal_frame(
            frame_head(magic, d, k) + sparse_body(d, idx, rep.values, width)), s
    if roll < 0.90:  # values
        v = rep.values.copy()
        if v.size and r.random() < 0.6:
            v[r.randrange(v.size)] = r.choice(_ODD_FLOATS)
            label = "forge-values:odd"
        else:
            v = np.frombuffer(m.rand_bytes(4 * v.size), "<f4")
            label = "forge-values:random"
        return label, seal_frame(frame_head(magic, d, k) + sparse_body(d, rep.indices, v, width)), s
    cut = r.choice((1, 2, 3, 4, 5, 8))
    body = body[:-cut] if r.random() < 0.5 and body else body + m.rand_bytes(cut)
    return "forge-length", seal_frame(frame_head(magic, d, k) + body), s


def _raw_fields(width: int, zz: np.ndarray) -> tuple[int, bytes]:
    """A RAW-kind VSC payload: the 8-bit width, then the zigzag fields (bits, bytes)."""
    w = BitWriter()
    w.write_fields(np.array([width & 0xFF], np.uint64), 8)
    if zz.size and width:
        w.write_fields(zz.astype(np.uint64), width)
    return w.nbits, w.to_bytes()


def gen_packed(m: Mutator, seeds: list[QSeed], vseeds: list[VscSeed]) -> tuple[str, bytes, QSeed]:
    """The quantized-frame mutations (on packed frames), then forgeries of the fixed-width
    payload: the width byte, fields beyond ±levels or beyond 2**32, bit counts."""
    r = m.r
    if r.random() < 0.6:
        gen, msg, s = gen_qframe(m, seeds, vseeds)
        return gen, msg, s
    s = r.choice(seeds)
    head, inner = split_qframe(s.msg)
    kind, d, nbits, payload = split_vsc(inner)
    width = payload[0] if payload else 0
    zz = np.zeros(d, np.uint64)
    if d and width:
        bits = np.unpackbits(np.frombuffer(payload, np.uint8), count=nbits)[8:]
        zz = np.packbits(np.concatenate([np.zeros((d, 64 - width), np.uint8),
                                         bits.reshape(d, width)], axis=1), axis=1) \
            .view(">u8").reshape(-1).astype(np.uint64)
    what = r.choice(("width", "width", "field", "field", "wide", "nbits", "kind"))
    if what == "width":  # the same fields at another width (too narrow, wider, > 33, 0)
        w2 = r.choice((0, 1, max(0, width - 1), width + 1, 8, 32, 33, 34, 40, 64, 255))
        if w2 > 40:  # only the width byte: the bit-count check must refuse it
            nb, pl = _raw_fields(w2, np.zeros(0, np.uint64))
        else:
            nb, pl = _raw_fields(w2, zz & np.uint64((1 << w2) - 1))
    elif what == "field":  # one symbol beyond ±levels (fits the width, or a wider width)
        z2 = zz.copy()
        big = 2 * s.levels + r.choice((1, 2, 3))
        w2 = max(width, int(big).bit_length())
        if d:
            z2[r.randrange(d)] = big
        nb, pl = _raw_fields(w2, z2)
    elif what == "wide":  # width 33 with a field above 2**32
        z2 = zz.copy()
        if d:
            z2[r.randrange(d)] = r.choice((2**32 + 1, 2**33 - 1))
        nb, pl = _raw_fields(33, z2)
    elif what == "nbits":
        nb, pl = nbits + r.choice((1, -1, 8, -8, 64)), payload
        nb = max(0, nb)
    else:  # a RAW payload labelled VSC
        return "forge-packed:kind", seal_qframe(head, seal(vsc.KIND_VSC, d, nbits, payload)), s
    return f"forge-packed:{what}", seal_qframe(head, seal(vsc.KIND_RAW, d, nb, pl)), s
