"""Decoder fuzzer (issue 5, part 3): hostile bytes into every decoder of :mod:`gossip.codecs`.

``python -m gossip.fuzz [--count N] [--seed S] [--out DIR]`` feeds ``--count`` messages (default
100,000) to **each** decoder, ``vsc.decode`` and ``qframe.decode``: valid messages (seeds)
mutated (bit flips, byte overwrites, insertions, deletions), truncated, extended, spliced,
purely random, and CRC-*re-sealed* forgeries whose payload bits (or header fields) were
mutated and whose checksum was then recomputed, so the mutation reaches the payload parser
instead of stopping at the CRC.

Rules checked for every message (a broken rule is a *violation*; any violation makes the
exit status 1):

* the only exception a decoder may raise is :class:`~gossip.codecs.DecodeError`
  (``exception``); a DecodeError produced by ``vsc.decode``'s last-resort safety net (a
  ``ValueError``/``IndexError``/... caught and re-raised) is reported as ``safety_net``;
* a decode that returns must return a well-formed result (``bad_output``): the declared size,
  int64 for VSC, a VSC result that re-encodes and decodes to itself, |z| <= levels and finite
  non-negative scales for a quantized frame;
* no decode may take longer than ``--slow`` seconds (``slow``, default 1 s); a decode still
  running after ``--hard-timeout`` seconds is interrupted with SIGALRM (``timeout``);
* no decode may allocate (``tracemalloc`` peak above the memory in use before the call) more
  than ``1 MiB + 256 B x d_ok + 256 B x len(message)`` (``memory``), where ``d_ok`` is the
  declared size only when the receiver permits it (the expected size, or at most
  ``max_entries``) and 0 otherwise: a size the decoder must refuse must be refused before any
  allocation.  (A valid dense message needs about 110 B per entry: d = 10^7 at 50% nonzero
  peaks at 1.06 GiB in ``vsc.decode``.)

Entry points: :func:`main` (argv), :func:`fuzz` (returns a :class:`FuzzReport`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import struct
import sys
import time
import tracemalloc
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .codecs import DecodeError, qframe, vsc
from .compressors import DitheredQuantizer, Quantized

#: Memory allowance: BASE + PER_ENTRY * permitted declared size + PER_BYTE * message length.
MEM_BASE = 1 << 20
MEM_PER_ENTRY = 256
MEM_PER_BYTE = 256
#: ``max_entries`` passed to vsc.decode when no expected size is given.
DEFAULT_MAX_ENTRIES = 1 << 20
VIOLATIONS = ("exception", "safety_net", "bad_output", "slow", "timeout", "memory")
TARGETS = ("vsc", "qframe")


# ----------------------------------------------------------------------------- envelopes


leb128 = vsc._leb128  # the codec's own writer: forged headers stay well-formed


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


# ----------------------------------------------------------------------------- mutators

_INTERESTING = (0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0x3F, 0x40)


class Mutator:
    """All the ways to make a hostile message; deterministic for a given seed."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    # -- bytes ------------------------------------------------------------------------------
    def rand_bytes(self, n: int) -> bytes:
        return self.r.randbytes(n)

    def byte_mutation(self, msg: bytes) -> tuple[str, bytes]:
        r = self.r
        b = bytearray(msg)
        op = r.choice(("bitflip", "overwrite", "insert", "delete"))
        if op == "bitflip" or (not b and op in ("overwrite", "delete")):
            if not b:
                return "insert", self.rand_bytes(r.randint(1, 8))
            for _ in range(r.choice((1, 1, 1, 2, 3, 8))):
                i = r.randrange(8 * len(b))
                b[i // 8] ^= 1 << (i % 8)
            return "bitflip", bytes(b)
        if op == "overwrite":
            for _ in range(r.randint(1, 4)):
                i = r.randrange(len(b))
                b[i] = r.choice(_INTERESTING) if r.random() < 0.5 else r.randrange(256)
            return "overwrite", bytes(b)
        if op == "insert":
            i = r.randint(0, len(b))
            b[i:i] = self.rand_bytes(r.randint(1, 16)) if r.random() < 0.7 else bytes(r.randint(1, 16))
            return "insert", bytes(b)
        i = r.randrange(len(b))
        del b[i:i + r.randint(1, 16)]
        return "delete", bytes(b)

    def truncate(self, msg: bytes) -> bytes:
        return msg[:self.r.randrange(len(msg))] if msg else b""

    def extend(self, msg: bytes) -> bytes:
        n = self.r.choice((1, 1, 2, 4, 16, 64, 300))
        return msg + (bytes(n) if self.r.random() < 0.3 else self.rand_bytes(n))

    def random_message(self) -> bytes:
        return self.rand_bytes(self.r.choice((0, 1, 2, 3, 5, 8, 13, 32, 100, 1000)))

    def splice(self, a: bytes, b: bytes) -> bytes:
        return a[:self.r.randint(0, len(a))] + b[self.r.randint(0, len(b)):]

    # -- bits -------------------------------------------------------------------------------
    def bit_mutation(self, bits: np.ndarray) -> tuple[str, np.ndarray]:
        r = self.r
        n = bits.size
        op = r.choice(("flip", "flip", "insert", "delete", "run", "truncate", "extend", "swap"))
        if n == 0 and op not in ("insert", "extend"):
            op = "extend"
        bits = bits.copy()
        if op == "flip":
            for _ in range(r.choice((1, 1, 2, 3, 5))):
                bits[r.randrange(n)] ^= 1
        elif op == "insert":
            i = r.randint(0, n)
            k = r.choice((1, 1, 2, 3, 7, 8, 16, 33))
            new = np.array([r.getrandbits(1) for _ in range(k)], np.uint8) if r.random() < 0.6 \
                else np.full(k, r.getrandbits(1), np.uint8)
            bits = np.concatenate([bits[:i], new, bits[i:]])
        elif op == "delete":
            i = r.randrange(n)
            bits = np.concatenate([bits[:i], bits[i + r.choice((1, 1, 2, 3, 8, 17)):]])
        elif op == "run":
            i = r.randrange(n)
            k = r.choice((2, 4, 8, 16, 64, 256))
            bits[i:i + k] = r.getrandbits(1)
        elif op == "truncate":
            bits = bits[:r.randrange(n)]
        elif op == "extend":
            k = r.choice((1, 2, 5, 8, 32, 200))
            tail = np.full(k, r.getrandbits(1), np.uint8) if r.random() < 0.5 else \
                np.frombuffer(self.rand_bytes(k), np.uint8) & 1
            bits = np.concatenate([bits, tail.astype(np.uint8)])
        else:  # swap two stretches
            i, j = sorted((r.randrange(n), r.randrange(n)))
            k = min(r.choice((1, 4, 16)), n - j)
            bits[i:i + k], bits[j:j + k] = bits[j:j + k].copy(), bits[i:i + k].copy()
        return op, bits

    def new_d(self, d: int) -> int:
        r = self.r
        return max(0, r.choice((d + 1, d - 1, d * 2, d // 2, 0, 1, r.randrange(1 << 16),
                                r.randrange(1 << 24), 2**28, 2**28 + 1, 2**40, 2**62)))


# ----------------------------------------------------------------------------- generators


def _bits_of(payload: bytes, nbits: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(payload, np.uint8), count=nbits)


def _pack(bits: np.ndarray) -> bytes:
    return np.packbits(bits.astype(np.uint8)).tobytes()


def forge_vsc(m: Mutator, s: VscSeed) -> tuple[str, bytes]:
    """A CRC-valid VSC message made from a seed by mutating payload bits or header fields."""
    r = m.r
    kind, d, nbits, payload = split_vsc(s.msg)
    roll = r.random()
    if roll < 0.65:  # payload bits, exact nbits, zero padding
        bits = _bits_of(payload, nbits)
        op, bits = m.bit_mutation(bits)
        for _ in range(r.choice((0, 0, 0, 1, 2))):
            op2, bits = m.bit_mutation(bits)
            op += "+" + op2
        if r.random() < 0.1:
            kind ^= 1
            op += "+kind"
        return f"forge-payload:{op}", seal(kind, d, bits.size, _pack(bits))
    if roll < 0.85:  # header fields
        what = r.choice(("d", "d", "kind", "nbits", "version"))
        if what == "d":
            return "forge-header:d", seal(kind, m.new_d(d), nbits, payload)
        if what == "kind":
            return "forge-header:kind", seal(r.choice((kind ^ 1, 2, 255)), d, nbits, payload)
        if what == "nbits":
            nb = max(0, r.choice((nbits + 1, nbits - 1, nbits + 8, nbits - 8, 0, 2**40)))
            return "forge-header:nbits", seal(kind, d, nb, payload)
        return "forge-header:version", seal(kind, d, nbits, payload, version=r.choice((0, 2, 255)))
    if roll < 0.93:  # random payload bits for a plausible size
        dd = r.choice((0, 1, 2, 3, 10, 100, 1000, d))
        nb = r.choice((0, 1, 3, 8, 13, 64, 200, 1000, 5000))
        bits = np.frombuffer(m.rand_bytes((nb + 7) // 8), np.uint8)
        bits = np.unpackbits(bits, count=nb) if nb else np.zeros(0, np.uint8)
        if r.random() < 0.5:  # bias towards long unary runs / few terminators
            bits = bits | np.uint8(r.getrandbits(1))
        return "forge-random", seal(r.choice((0, 0, 1)), dd, bits.size, _pack(bits))
    return "forge-table", forge_table(m, s.d)


def forge_table(m: Mutator, d: int) -> bytes:
    """A VSC payload whose symbol table is plausible but subtly wrong or extreme (counts that
    do not add up, unsorted counts, duplicate symbols, huge values), followed by random gaps."""
    from .codecs.bitio import BitWriter

    r = m.r
    d = max(d, 1) if r.random() < 0.8 else r.choice((1, 2, 5, 1 << 20))
    K = r.choice((1, 2, 3, 5, 9, min(d, 40) or 1, d + 1, 2**20))
    w = BitWriter()
    w.write_elias_gamma(np.array([K + 1], np.uint64))
    k_real = min(K, 64)
    zz = [r.choice((0, 1, 2, 3, 4, 7, 8, 100, 2**32, 2**32 + 1, 2**40)) for _ in range(k_real)]
    if r.random() < 0.7:
        zz = list(dict.fromkeys(zz)) + [1000 + i for i in range(k_real - len(set(zz)))]
    w.write_elias_gamma(np.array(zz, np.uint64) + np.uint64(1))
    counts = sorted((max(1, int(r.expovariate(1.0) * d / (k_real + 1))) for _ in range(k_real - 1)),
                    reverse=r.random() < 0.8)
    if counts and r.random() < 0.3:
        counts[r.randrange(len(counts))] = r.choice((d, d + 1, 2**40, 1))
    if counts:
        w.write_elias_gamma(np.array(counts, np.uint64))
    tail = np.unpackbits(np.frombuffer(m.rand_bytes(r.choice((0, 1, 4, 32, 200))), np.uint8))
    if tail.size:
        w.write_bits(tail)
    return seal(vsc.KIND_VSC, d, w.nbits, w.to_bytes())


def _plain_mutation(m: "Mutator", roll: float, msg: bytes, seeds, header: bytes, *,
                    header_until: float, splice_until: float) -> tuple[str, bytes] | None:
    """The format-agnostic mutations both generators start with (None: forge instead)."""
    if roll < 0.20:
        op, out = m.byte_mutation(msg)
        return f"mutate:{op}", out
    if roll < 0.25:
        return "truncate", m.truncate(msg)
    if roll < 0.30:
        return "extend", m.extend(msg)
    if roll < 0.34:
        return "random", m.random_message()
    if roll < header_until:  # a believable header prefix, then noise
        return "random-after-header", header + m.random_message()
    if roll < splice_until:
        return "splice", m.splice(msg, m.r.choice(seeds).msg)
    return None


def gen_vsc(m: Mutator, seeds: list[VscSeed]) -> tuple[str, bytes, VscSeed]:
    r = m.r
    s = r.choice(seeds)
    roll = r.random()
    plain = _plain_mutation(m, roll, s.msg, seeds, vsc.MAGIC + bytes([vsc.VERSION, r.choice((0, 1))]),
                            header_until=0.38, splice_until=0.41)
    if plain is not None:
        return (*plain, s)
    label, msg = forge_vsc(m, s)
    return label, msg, s


def gen_qframe(m: Mutator, seeds: list[QSeed], vseeds: list[VscSeed]) -> tuple[str, bytes, QSeed]:
    r = m.r
    s = r.choice(seeds)
    roll = r.random()
    plain = _plain_mutation(m, roll, s.msg, seeds, qframe.MAGIC + bytes([qframe.VERSION]),
                            header_until=0.37, splice_until=0.40)
    if plain is not None:
        return (*plain, s)
    head, inner = split_qframe(s.msg)
    if roll < 0.60:  # frame header forged, CRC recomputed
        what = r.choice(("scale", "scale", "levels", "blocks", "bytes"))
        if what == "scale":
            sc = np.frombuffer(head[-4 * len(s.block_sizes):], "<f4").copy() \
                if len(s.block_sizes) else np.zeros(0, "<f4")
            if sc.size:
                sc[r.randrange(sc.size)] = r.choice((np.nan, np.inf, -np.inf, -1.0, -0.0, 0.0,
                                                     3.4e38, 1e-45))
            return "forge-frame:scale", seal_qframe(qframe_head(s.levels, sc), inner), s
        if what == "levels":
            lv = r.choice((0, s.levels + 1, s.levels - 1, 127, 128, 2**31, 2**62))
            sc = np.frombuffer(head[-4 * len(s.block_sizes):], "<f4")
            return "forge-frame:levels", seal_qframe(qframe_head(max(lv, 0), sc), inner), s
        if what == "blocks":
            nb = r.choice((0, len(s.block_sizes) + 1, max(0, len(s.block_sizes) - 1), 2**20, 2**40))
            h = qframe.MAGIC + bytes([qframe.VERSION]) + leb128(s.levels) + leb128(nb)
            h += m.rand_bytes(min(4 * nb, r.choice((0, 4, 8, 64))))
            return "forge-frame:blocks", seal_qframe(h, inner), s
        _, hb = m.byte_mutation(head)
        return "forge-frame:bytes", seal_qframe(hb, inner), s
    if roll < 0.90:  # inner VSC forged (its own CRC recomputed), frame intact
        vs = VscSeed(inner, np.zeros(int(np.sum(s.block_sizes)), np.int64), "inner")
        label, forged = forge_vsc(m, vs)
        return f"inner-{label}", seal_qframe(head, forged), s
    # a valid inner message that does not fit this frame: other size, or symbols beyond ±s
    other = r.choice(vseeds).msg if r.random() < 0.5 else vsc.encode(
        np.full(int(np.sum(s.block_sizes)), r.choice((s.levels + 1, -s.levels - 1, 127, 128))))
    return "inner-swap", seal_qframe(head, other), s


# ----------------------------------------------------------------------------- running


class _Timeout(BaseException):
    """Raised from the SIGALRM handler; a BaseException so no decoder can swallow it."""


def _on_alarm(signum, frame):  # pragma: no cover - only on a hang
    raise _Timeout()


def _is_safety_net(exc: DecodeError) -> bool:
    c = exc.__cause__
    while c is not None:
        if not isinstance(c, DecodeError):
            return True
        c = c.__cause__
    return False


_NUM = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
_BYTES = re.compile(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"")


def _reason(exc: BaseException) -> str:
    """The error message with numbers and quoted bytes blanked, to group rejections."""
    return _NUM.sub("N", _BYTES.sub("B", str(exc)))[:90]


@dataclass
class FuzzReport:
    count: dict = field(default_factory=dict)  # target -> messages tried
    outcomes: dict = field(default_factory=dict)  # target -> Counter(outcome)
    by_generator: dict = field(default_factory=dict)  # target -> {generator: Counter(outcome)}
    reasons: dict = field(default_factory=dict)  # target -> Counter(rejection reason)
    slowest: dict = field(default_factory=dict)  # target -> {seconds, generator, bytes}
    max_memory: dict = field(default_factory=dict)  # target -> {bytes, allowance, ratio, ...}
    violations: list = field(default_factory=list)  # dicts with target, kind, detail, hex
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def n_violations(self) -> int:
        return len(self.violations)

    def to_json(self) -> dict:
        return {
            "settings": self.settings, "seconds": self.seconds, "count": self.count,
            "outcomes": {t: dict(c) for t, c in self.outcomes.items()},
            "by_generator": {t: {g: dict(c) for g, c in sorted(gs.items())}
                             for t, gs in self.by_generator.items()},
            "rejection_reasons": {t: dict(c.most_common()) for t, c in self.reasons.items()},
            "slowest": self.slowest, "max_memory": self.max_memory,
            "violations": self.violations, "n_violations": self.n_violations,
        }


def _check_vsc_output(out, d_decl: int, expected: int | None) -> str | None:
    if not isinstance(out, np.ndarray) or out.dtype != np.int64 or out.ndim != 1:
        return f"returned {type(out).__name__} {getattr(out, 'dtype', '')}"
    if out.size != d_decl or (expected is not None and out.size != expected):
        return f"returned {out.size} entries, header declares {d_decl}, expected {expected}"
    if out.size <= 1 << 16:
        back = vsc.decode(vsc.encode(out))
        if not np.array_equal(back, out):
            return "decoded vector does not survive its own round trip"
    return None


def _check_qframe_output(out, s: QSeed) -> str | None:
    if not isinstance(out, Quantized):
        return f"returned {type(out).__name__}"
    z, sc = np.asarray(out.symbols), np.asarray(out.scales)
    if z.ndim != 1 or z.size != int(np.sum(s.block_sizes)):
        return f"symbols of shape {z.shape} for a {int(np.sum(s.block_sizes))}-entry layout"
    if sc.shape != (len(s.block_sizes),) or sc.dtype != np.float32:
        return f"scales of shape {sc.shape} / {sc.dtype}"
    if not np.isfinite(sc).all() or (sc < 0).any():
        return "non-finite or negative scale accepted"
    if z.size and int(np.abs(z.astype(np.int64)).max()) > s.levels:
        return f"symbol beyond ±{s.levels} accepted"
    if out.levels != s.levels:
        return f"levels {out.levels} != {s.levels}"
    return None


def _warm_up(vseeds: list[VscSeed], qseeds: list[QSeed], seed: int) -> None:
    """Decode every seed and a few hundred hostile messages once, untimed and unmeasured, so
    first-call costs (lazy imports, numpy's internal caches) are not charged to message 1."""
    m = Mutator(seed + 7_777_777)
    for s in vseeds + qseeds:
        try:
            if isinstance(s, VscSeed):
                vsc.decode(s.msg, expected_size=s.d)
            else:
                qframe.decode(s.msg, levels=s.levels, block_sizes=s.block_sizes)
        except Exception:  # noqa: BLE001 - the measured run reports problems
            pass
    for _ in range(300):
        for msg, call in ((gen_vsc(m, vseeds)[1], lambda b: vsc.decode(b, max_entries=1 << 16)),
                          (gen_qframe(m, qseeds, vseeds)[1], None)):
            try:
                if call is not None:
                    call(msg)
                else:
                    s = qseeds[0]
                    qframe.decode(msg, levels=s.levels, block_sizes=s.block_sizes)
            except Exception:  # noqa: BLE001 - the measured run reports these
                pass


def fuzz(count: int = 100_000, *, seed: int = 0, targets=TARGETS, slow: float = 1.0,
         hard_timeout: float = 10.0, max_entries: int = DEFAULT_MAX_ENTRIES,
         memory: bool = True, progress: Callable[[str], None] | None = None,
         keep_violations: int = 50) -> FuzzReport:
    """Feed ``count`` hostile messages to each decoder in ``targets``; returns the report.

    Safe to call from tests: the previous SIGALRM handler and timer are restored."""
    rep = FuzzReport(settings={"count_per_decoder": count, "seed": seed, "slow_s": slow,
                               "hard_timeout_s": hard_timeout, "max_entries": max_entries,
                               "memory_check": memory, "mem_base": MEM_BASE,
                               "mem_per_entry": MEM_PER_ENTRY, "mem_per_byte": MEM_PER_BYTE})
    vseeds, qseeds = vsc_seeds(seed), qframe_seeds(seed)
    use_alarm = hard_timeout > 0 and hasattr(signal, "setitimer")
    old_handler = None
    try:
        if use_alarm:
            old_handler = signal.signal(signal.SIGALRM, _on_alarm)
            if old_handler is None:  # installed outside Python: put the default back after
                old_handler = signal.SIG_DFL
    except ValueError:  # not the main thread: no hard guard, the slow check still applies
        use_alarm = False
    old_timer = signal.getitimer(signal.ITIMER_REAL) if use_alarm else (0.0, 0.0)
    if use_alarm:
        signal.setitimer(signal.ITIMER_REAL, 0)
    started_tm = False
    if memory and not tracemalloc.is_tracing():
        tracemalloc.start()
        started_tm = True
    t_start = time.perf_counter()
    _warm_up(vseeds, qseeds, seed)
    try:
        for ti, target in enumerate(targets):
            m = Mutator(seed * 1000 + ti)
            outcomes, reasons = Counter(), Counter()
            by_gen: dict[str, Counter] = {}
            slowest = {"seconds": 0.0}
            maxmem = {"ratio": 0.0}
            t_tgt = time.perf_counter()
            for i in range(count):
                if target == "vsc":
                    gen, msg, s = gen_vsc(m, vseeds)
                    try:
                        d_decl = vsc.message_info(msg)["d"]
                    except DecodeError:
                        d_decl = None
                    # the receiver's expectation: the seed's size, the (possibly forged)
                    # declared size, so forgeries reach the payload parser, or none at all
                    roll = m.r.random()
                    if roll < 0.5 or d_decl is None:
                        expected = s.d if roll < 0.8 else None
                    else:
                        expected = d_decl if roll < 0.8 and d_decl <= max_entries else None
                    cap = expected if expected is not None else max_entries
                    d_ok = d_decl if d_decl is not None and (
                        d_decl == expected if expected is not None else d_decl <= cap) else 0

                    def call(msg=msg, expected=expected):
                        if expected is None:
                            return vsc.decode(msg, max_entries=max_entries)
                        return vsc.decode(msg, expected_size=expected)
                else:
                    gen, msg, s = gen_qframe(m, qseeds, vseeds)
                    d_ok = int(np.sum(s.block_sizes))

                    def call(msg=msg, s=s):
                        return qframe.decode(msg, levels=s.levels, block_sizes=s.block_sizes)
                family = gen.split(":")[0]
                allowance = MEM_BASE + MEM_PER_ENTRY * d_ok + MEM_PER_BYTE * len(msg)
                outcome, detail, out = None, "", None
                if memory:
                    base = tracemalloc.get_traced_memory()[0]
                    tracemalloc.reset_peak()
                t0 = time.perf_counter()
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, hard_timeout)
                try:
                    out = call()
                    outcome = "accepted"
                except DecodeError as exc:
                    if _is_safety_net(exc):
                        outcome, detail = "safety_net", f"{exc!r} <- {exc.__cause__!r}"
                    else:
                        outcome = "rejected"
                        reasons[_reason(exc)] += 1
                except _Timeout:
                    outcome, detail = "timeout", f"still running after {hard_timeout} s"
                except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                    outcome, detail = "exception", f"{type(exc).__name__}: {exc}"
                finally:
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                dt = time.perf_counter() - t0
                peak = tracemalloc.get_traced_memory()[1] - base if memory else 0
                if outcome == "accepted":
                    try:
                        bad = (_check_vsc_output(out, d_decl, expected) if target == "vsc"
                               else _check_qframe_output(out, s))
                    except Exception as exc:  # noqa: BLE001 - e.g. the round trip failing
                        bad = f"checking the result raised {type(exc).__name__}: {exc}"
                    if bad:
                        outcome, detail = "bad_output", bad
                out = None
                kinds = [outcome] if outcome in VIOLATIONS else []
                if dt > slow and outcome != "timeout":
                    kinds.append("slow")
                    detail += f" took {dt:.3f} s"
                if memory and peak > allowance:
                    kinds.append("memory")
                    detail += f" allocated {peak:,} B > allowance {allowance:,} B"
                # slow and memory are counted on top of the outcome (accepted or rejected)
                gen_counts = by_gen.setdefault(family, Counter())
                for k in dict.fromkeys([outcome, *kinds]):
                    outcomes[k] += 1
                    gen_counts[k] += 1
                if dt > slowest["seconds"]:
                    slowest = {"seconds": dt, "generator": gen, "bytes": len(msg),
                               "outcome": outcome}
                if memory and allowance and peak / allowance > maxmem["ratio"]:
                    maxmem = {"ratio": peak / allowance, "bytes": int(peak),
                              "allowance": allowance, "generator": gen, "message_bytes": len(msg),
                              "d_permitted": d_ok}
                if kinds:
                    v = {"target": target, "kinds": kinds, "generator": gen, "index": i,
                         "seed_label": s.label, "detail": detail.strip(), "bytes": len(msg)}
                    if len(rep.violations) < keep_violations:
                        v["hex"] = msg[:4096].hex()
                    rep.violations.append(v)
                if progress and (i + 1) % 20000 == 0:
                    progress(f"  {target}: {i + 1:,}/{count:,} "
                             f"({time.perf_counter() - t_tgt:.0f} s, "
                             f"{sum(outcomes[k] for k in VIOLATIONS)} violations)")
            rep.count[target] = count
            rep.outcomes[target] = outcomes
            rep.by_generator[target] = by_gen
            rep.reasons[target] = reasons
            rep.slowest[target] = slowest
            rep.max_memory[target] = maxmem
    finally:
        if started_tm:
            tracemalloc.stop()
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_timer[0] > 0:
                elapsed = time.perf_counter() - t_start
                signal.setitimer(signal.ITIMER_REAL, max(old_timer[0] - elapsed, 1e-3),
                                 old_timer[1])
    rep.seconds = time.perf_counter() - t_start
    return rep


def format_report(rep: FuzzReport) -> str:
    cols = ("accepted", "rejected") + VIOLATIONS
    lines = ["| decoder | messages | " + " | ".join(cols) + " | slowest decode | max memory / allowance |",
             "|---|---:|" + "---:|" * len(cols) + "---|---|"]
    for t, n in rep.count.items():
        o = rep.outcomes[t]
        sl, mm = rep.slowest[t], rep.max_memory[t]
        mem = (f"{mm['ratio']:.3f} ({mm.get('bytes', 0):,} B, {mm.get('generator', '')})"
               if "bytes" in mm else "not measured")
        lines.append(f"| {t} | {n:,} | " + " | ".join(f"{o.get(c, 0):,}" for c in cols)
                     + f" | {sl['seconds'] * 1e3:.1f} ms ({sl.get('generator', '')}, "
                       f"{sl.get('bytes', 0):,} B) | {mem} |")
    lines.append("")
    lines.append("(slow and memory violations are counted on top of accepted/rejected.)")
    lines.append("By generator (accepted / rejected / violations):")
    for t, gens in rep.by_generator.items():
        parts = []
        for g, c in sorted(gens.items()):
            bad = sum(c[k] for k in VIOLATIONS)
            parts.append(f"{g} {c['accepted']}/{c['rejected']}/{bad}")
        lines.append(f"- {t}: " + ", ".join(parts))
    lines.append("")
    for t, reasons in rep.reasons.items():
        lines.append(f"Most frequent {t} rejections ({len(reasons)} distinct):")
        for reason, n in reasons.most_common(8):
            lines.append(f"  {n:7,}  {reason}")
    total = sum(rep.count.values())
    lines.append("")
    if rep.violations:
        lines.append(f"VIOLATIONS: {rep.n_violations} of {total:,} messages")
        for v in rep.violations[:20]:
            lines.append(f"- {v['target']} #{v['index']} {'+'.join(v['kinds'])} "
                         f"[{v['generator']}, seed {v['seed_label']!r}]: {v['detail']}")
    else:
        lines.append(f"no violations in {total:,} messages ({rep.seconds:.0f} s)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gossip bench fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100_000, help="messages per decoder (default 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", choices=TARGETS, action="append",
                   help="decoder to fuzz (repeatable; default both)")
    p.add_argument("--slow", type=float, default=1.0,
                   help="a decode slower than this many seconds is a violation (default 1)")
    p.add_argument("--hard-timeout", type=float, default=10.0,
                   help="interrupt a decode after this many seconds (SIGALRM; 0 = never)")
    p.add_argument("--max-entries", type=int, default=DEFAULT_MAX_ENTRIES,
                   help="max_entries for vsc.decode calls without an expected size")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc check (faster)")
    p.add_argument("--out", default=None, help="write report.json here (and the violations)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    targets = tuple(dict.fromkeys(args.target)) if args.target else TARGETS
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"fuzzing {', '.join(targets)}: {args.count:,} messages each, seed {args.seed}")
    rep = fuzz(args.count, seed=args.seed, targets=targets, slow=args.slow,
               hard_timeout=args.hard_timeout, max_entries=args.max_entries,
               memory=not args.no_memory, progress=log)
    print(format_report(rep), flush=True)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(rep.to_json(), indent=2, default=str) + "\n")
        print(f"wrote {out / 'report.json'}")
    return 1 if rep.n_violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
