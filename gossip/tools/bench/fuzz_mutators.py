"""The fuzzer's mutations: format-agnostic byte and bit mutations (:class:`Mutator`), and the
generators of hostile VSC messages and quantized frames (mutated, truncated, spliced, random,
and CRC-re-sealed forgeries of payload bits, header fields and symbol tables)."""

from __future__ import annotations

import random

import numpy as np

from .._core import BitWriter, qframe, vsc
from .fuzz_seeds import QSeed, VscSeed, leb128, qframe_head, seal, seal_qframe, split_qframe, \
    split_vsc


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
