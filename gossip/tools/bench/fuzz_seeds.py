"""The fuzzer's envelopes and seeds: independent writers and readers of the VSC message and the
quantized frame (forgeries carry correct checksums), and valid messages of every shape the
encoders make."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .._core import DitheredQuantizer, qframe, vsc, write_varint



leb128 = write_varint  # the codecs' own writer: forged headers stay well-formed


def read_leb128(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos + i + 1
    raise ValueError("varint too long")


def seal(kind: int, d: int, nbits: int, payload: bytes, *, version: int = vsc.VERSION,
         magic: bytes = vsc.MAGIC) -> bytes:
    """Independent writer of the VSC envelope with a *correct* CRC (for forgeries)."""
    head = magic + bytes([version & 0xFF, kind & 0xFF]) + leb128(d) + leb128(nbits)
    return head + struct.pack("<I", zlib.crc32(head + payload)) + payload


def split_vsc(msg: bytes) -> tuple[int, int, int, bytes]:
    """A *valid* VSC message -> (kind, d, nbits, payload), parsed independently."""
    kind = msg[3]
    d, pos = read_leb128(msg, 4)
    nbits, pos = read_leb128(msg, pos)
    return kind, d, nbits, msg[pos + 4:]


def split_qframe(msg: bytes) -> tuple[bytes, bytes]:
    """A *valid* quantized frame -> (frame header without its CRC, inner VSC message)."""
    _, pos = read_leb128(msg, 3)
    nb, pos = read_leb128(msg, pos)
    end = pos + 4 * nb
    return msg[:end], msg[end + 4:]


def seal_qframe(head: bytes, inner: bytes) -> bytes:
    return head + struct.pack("<I", zlib.crc32(head)) + inner


def qframe_head(levels: int, scales) -> bytes:
    sc = np.ascontiguousarray(scales, dtype="<f4")
    return qframe.MAGIC + bytes([qframe.VERSION]) + leb128(levels) + leb128(sc.size) + sc.tobytes()


# ----------------------------------------------------------------------------- seeds


@dataclass
class VscSeed:
    msg: bytes
    z: np.ndarray
    label: str

    @property
    def d(self) -> int:
        return int(self.z.size)


@dataclass
class QSeed:
    msg: bytes
    levels: int
    block_sizes: np.ndarray
    label: str


def vsc_seeds(seed: int = 0) -> list[VscSeed]:
    """Valid messages of every shape the encoder makes (VSC and RAW kinds, K = 0..hundreds)."""
    rng = np.random.default_rng([seed, 1])
    lim = 2**31

    def geo(d, f, theta=0.5):
        z = np.zeros(d, np.int64)
        hit = rng.random(d) < f
        mag = rng.geometric(1 - theta, int(hit.sum()))
        z[hit] = np.where(rng.random(mag.size) < 0.5, -mag, mag)
        return z

    vecs = {
        "empty": np.zeros(0, np.int64),
        "one zero": np.zeros(1, np.int64),
        "one value": np.array([5]),
        "two": np.array([0, -1]),
        "zeros 100": np.zeros(100, np.int64),
        "constant 7 x 50": np.full(50, 7),
        "sparse 1% d=1000": geo(1000, 0.01),
        "sparse 10% d=1000": geo(1000, 0.1),
        "dense 50% d=2000": geo(2000, 0.5),
        "uniform -4..4 d=500": rng.integers(-4, 5, 500),
        "many distinct d=1000": np.where(rng.random(1000) < 0.3, rng.integers(-1000, 1000, 1000), 0),
        "all distinct d=64": rng.permutation(np.arange(-32, 32)),
        "ties d=40": np.repeat(np.arange(-5, 5), 4),
        "wide values (raw)": rng.integers(-lim, lim, 200),
        "extremes (raw)": np.array([-lim, lim, 0, 1, -1] * 8),
        "negative only": -rng.integers(1, 4, 300),
        "long runs d=4096": np.repeat(rng.integers(-2, 3, 16), 256),
        "rare big outlier": np.concatenate([np.zeros(3000, np.int64), [2**30], np.zeros(95, np.int64)]),
        "model-sized 1% d=150010": np.clip(geo(150_010, 0.011), -4, 4),
    }
    return [VscSeed(vsc.encode(z), np.asarray(z, np.int64), label) for label, z in vecs.items()]


def qframe_seeds(seed: int = 0) -> list[QSeed]:
    rng = np.random.default_rng([seed, 2])
    out = []
    layouts = ([40, 8, 20, 2], [1000, 10], [3], [256, 256, 16], [1], [128000, 2000, 20000, 10])
    for i, blocks in enumerate(layouts):
        for levels, norm, tau in ((4, "l2", True), (2, "inf", False), (1, "inf", False),
                                  (16, "inf", False)):
            q = DitheredQuantizer(blocks, levels, norm=norm, tau_scaling=tau)
            v = rng.standard_normal(q.size).astype(np.float32)
            if i % 2:
                v[rng.random(q.size) < 0.7] = 0.0
            if i == 5 and levels not in (4, 2):
                continue  # one model-sized frame per realistic quantizer is enough
            if i == 4 and levels == 1:
                v[:] = 0.0  # all-zero: zero scale
            z = q.quantize(v, rng)
            out.append(QSeed(qframe.encode(z), levels, q.block_sizes.copy(),
                             f"blocks={blocks} s={levels} {norm}"))
    return out
