"""Compiled twin of :mod:`gossip.codecs.vsc` (numba): same messages, byte for byte.

:func:`encode` returns exactly the bytes of ``gossip.codecs.vsc.encode`` and :func:`decode`
accepts exactly the messages ``gossip.codecs.vsc.decode`` accepts, with the same values; both
raise only :class:`~gossip.codecs.DecodeError` for anything malformed.  What differs is how:

* symbols stay in their own dtype (int8/int16/int32/... are read in place, never widened to
  int64), and :func:`decode` writes straight into an int8 (by default, when the symbols fit)
  output: no int64 vector, no bit-per-byte arrays, no per-level temporaries;
* the encoder (:mod:`.vsc_enc`) reads the symbols twice: a histogram (int8: zero words
  counted eight at a time), then one support pass over 64-entry masks of the entries that
  differ from the first symbol, writing every Golomb code into per-symbol scratch regions of
  uint64 words that are then concatenated in stream order;
* the decoder finds each symbol's start in the three sub-streams (popcount over the unary
  stream), then emits the occurrences in position order: symbol ``k``'s next occurrence is
  at ``E_k`` (its remaining free-slot gap shifted by rarer symbols placed before it), the
  smallest ``E_k`` wins, ties go to the rarer symbol (a linear scan for up to 16 coded
  symbols, a segment tree with range add above that), so the work is ``O(d + G log K)``.

Bit identity of the floating-point decisions.  The Golomb parameter and the closed-form
size estimate involve ``log``/``log1p``/``expm1``, whose last bits may differ between numba
(libm) and numpy (SIMD).  The kernels compute them and flag any value within 1e-9 (relative)
of a decision boundary (``ceil`` of the Golomb ratio, the VSC-vs-RAW estimate test); flagged
cases are recomputed with the numpy reference functions, so every decision is numpy's.

Header parsing and the CRC (``zlib.crc32``) stay in Python; all per-entry work is compiled.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
from numba import njit

from ..codecs import DecodeError
from ..codecs import vsc as ref
from ..codecs.bitio import write_varint
from ._llvm import clz64, popcount64
from .vsc_enc import hist8, table_bits, vsc_payload

__all__ = ["encode", "decode", "DecodeError"]

_MASK56 = (1 << 56) - 1
_INF = 1 << 62
_LIMIT = 2**31
_SMALL_K = 16  # coded symbols up to this use the linear scan in the decoder
_EPS = 1e-9  # relative margin around floating-point decision boundaries
_HIST_SPAN = 1 << 22  # widest counting table (entries) before the sort-based histogram

# ----------------------------------------------------------------------------- bit helpers


@njit(cache=True, inline="always")
def _bitlen(x):
    return 64 - clz64(x)


@njit(cache=True, inline="always")
def _gamma_len(m):
    return 2 * (_bitlen(m) - 1) + 1


@njit(cache=True, inline="always")
def _zigzag(x):
    x = np.int64(x)
    return (x << 1) ^ (x >> 63)


@njit(cache=True)
def _peek56(w, pos):
    """56 bits from bit ``pos`` on, MSB-aligned at bit 55, from ``w``: the payload as
    big-endian 64-bit words (see :func:`_words`; the zero padding reads as zeros)."""
    k = pos >> 6
    off = pos & 63
    hi = w[k]
    if off:
        hi = (hi << np.uint64(off)) | (w[k + 1] >> np.uint64(64 - off))
    return np.int64(hi >> np.uint64(8))


def _words(payload: np.ndarray) -> np.ndarray:
    """The payload as native uint64 values of its big-endian 8-byte words, zero padded by
    at least one word (so a 64-bit window read at any bit below ``8 * len`` stays inside)."""
    n = payload.size
    padded = np.zeros((n // 8 + 2) * 8, np.uint8)
    padded[:n] = payload
    return padded.view(">u8").astype(np.uint64)


@njit(cache=True)
def _get(buf, pos, width):
    """``width`` bits (0..62) at ``pos`` as an int64 (the caller checked the bounds)."""
    if width == 0:
        return np.int64(0)
    if width <= 48:
        return _peek56(buf, pos) >> (56 - width)
    hi = _peek56(buf, pos) >> (56 - (width - 32))
    return (hi << 32) | (_peek56(buf, pos + width - 32) >> 24)


@njit(cache=True)
def _read_unary(buf, pos, limit):
    """One unary code at ``pos`` -> (ones, position after the zero); (-1, pos) if no zero
    occurs before ``limit``."""
    q = np.int64(0)
    while True:
        if pos >= limit:
            return np.int64(-1), pos
        valid = 56
        if valid > limit - pos:
            valid = limit - pos
        inv = (~_peek56(buf, pos)) & _MASK56
        n = clz64(inv) - 8
        if n < valid:
            return q + n, pos + n + 1
        q += valid
        pos += valid


@njit(cache=True)
def _skip_unary(buf, pos, limit, count):
    """Position after ``count`` unary codes from ``pos``; -1 if they do not end by ``limit``."""
    while count > 0:
        if pos >= limit:
            return np.int64(-1)
        valid = 56
        if valid > limit - pos:
            valid = limit - pos
        inv = (~_peek56(buf, pos)) & _MASK56 & (((np.int64(1) << valid) - 1) << (56 - valid))
        z = popcount64(inv)
        if z < count:
            count -= z
            pos += valid
        else:
            idx = np.int64(0)
            while count > 0:
                idx = clz64(inv) - 8
                inv &= ~(np.int64(1) << (55 - idx))
                count -= 1
            return pos + idx + 1
    return pos


# ----------------------------------------------------------------------------- shared math


@njit(cache=True)
def _free_slots(nk, d):
    """``L_k = d - sum_{j>k} n_j`` for the coded symbols."""
    J = nk.size
    L = np.empty(J, np.int64)
    s = np.int64(0)
    for j in range(J - 1, -1, -1):
        L[j] = d - s
        s += nk[j]
    return L


@njit(cache=True)
def _golomb(nk, L):
    """Golomb parameters ``M``, ``b = ceil(log2 M)``, ``c = 2**b - M``; flag = some ratio is
    within the margin of an integer (then the caller takes numpy's ``golomb_parameter``)."""
    J = nk.size
    M = np.empty(J, np.int64)
    b = np.empty(J, np.int64)
    c = np.empty(J, np.int64)
    flag = False
    for j in range(J):
        p = nk[j] / L[j]
        ratio = 1.0
        if p > 0.0 and p < 1.0:
            r = math.log(2.0 - p) / -math.log1p(-p)
            if math.isfinite(r):
                ratio = r
                if abs(r - math.floor(r + 0.5)) <= _EPS * r:
                    flag = True
            else:
                flag = True
        else:
            flag = True
        m = math.ceil(min(ratio, 1099511627776.0))
        m = np.int64(m) if m > 1.0 else np.int64(1)
        M[j] = m
        bb = _bitlen(m - 1)
        b[j] = bb
        c[j] = (np.int64(1) << bb) - m
    return M, b, c, flag


@njit(cache=True)
def _estimate(d, sym, cnt, M, b, c, L):
    """Closed-form expected payload bits (the reference's ``_expected_payload_bits``)."""
    K = sym.size
    bits = float(_gamma_len(K + 1))
    if K:
        s = np.int64(0)
        for k in range(K):
            s += _gamma_len(_zigzag(sym[k]) + 1)
        bits += float(s)
        if K > 1:
            s = np.int64(0)
            for k in range(1, K):
                s += _gamma_len(cnt[k])
            bits += float(s)
            f = 0.0
            for j in range(K - 1):
                n = cnt[j + 1]
                p = n / L[j]
                if M[j] > 1:
                    lt = math.log1p(-p)
                    omt = -math.expm1(M[j] * lt)
                    ln = (1.0 + math.exp(c[j] * lt) - math.exp(M[j] * lt)) / omt + b[j] - 1.0
                else:
                    ln = 1.0 / p
                f += n * ln
            bits += f
    return bits


# ----------------------------------------------------------------------------- encoder


@njit(cache=True)
def _plan(vals, cnts, n, lut, vmin, use_lut):
    """Sort the distinct symbols by (count desc, value asc), rank lookup, Golomb plan."""
    K = vals.size
    e = np.zeros(0, np.int64)
    order = np.argsort(-cnts, kind="mergesort")  # stable: ties stay by value ascending
    sym = vals[order]
    cnt = cnts[order]
    if use_lut:
        for r in range(K):
            lut[sym[r] - vmin] = r
        ranks = e
        vals = e
    else:
        ranks = np.empty(K, np.int64)
        ranks[order] = np.arange(K)
    nk = cnt[1:]
    L = _free_slots(nk, n)
    M, b, c, flag = _golomb(nk, L)
    est = _estimate(n, sym, cnt, M, b, c, L)
    return sym, cnt, lut, vals, ranks, M, b, c, L, flag, est


@njit(cache=True)
def _from_counts(counts, vmin, n):
    span = counts.size
    K = 0
    for t in range(span):
        if counts[t]:
            K += 1
    vals = np.empty(K, np.int64)
    cnts = np.empty(K, np.int64)
    k = 0
    for t in range(span):
        if counts[t]:
            vals[k] = t + vmin
            cnts[k] = counts[t]
            k += 1
    return _plan(vals, cnts, n, np.empty(span, np.int64), vmin, True)


@njit(cache=True)
def _analyse8(v, words):
    """int8 histogram (zero words skipped) and plan: the outputs of :func:`_analyse`."""
    counts = hist8(v, words)
    lo = 0
    while counts[lo] == 0:
        lo += 1
    hi = 255
    while counts[hi] == 0:
        hi -= 1
    vmin = np.int64(lo - 128)
    sym, cnt, lut, vals, ranks, M, b, c, L, flag, est = _from_counts(
        counts[lo:hi + 1].copy(), vmin, v.size)
    return 0, vmin, np.int64(hi - 128), sym, cnt, lut, vals, ranks, M, b, c, L, flag, est


@njit(cache=True)
def _analyse(v):
    """Histogram and plan -> (code, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L,
    flag, estimate); code 1 = a value outside [-2**31, 2**31]."""
    n = v.size
    lo = v[0]
    hi = v[0]
    for i in range(n):
        x = v[i]
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    vmin = np.int64(lo)
    vmax = np.int64(hi)
    e = np.zeros(0, np.int64)
    if vmin < -_LIMIT or vmax > _LIMIT:
        return 1, vmin, vmax, e, e, e, e, e, e, e, e, e, False, 0.0
    span = vmax - vmin + 1
    if span <= 65536 or (span <= 2 * n and span <= _HIST_SPAN):
        counts = np.zeros(span, np.int64)
        for i in range(n):
            counts[np.int64(v[i]) - vmin] += 1
        sym, cnt, lut, vals, ranks, M, b, c, L, flag, est = _from_counts(counts, vmin, n)
        return 0, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L, flag, est
    a = np.sort(v)
    K = 1
    for i in range(1, n):
        if a[i] != a[i - 1]:
            K += 1
    vals = np.empty(K, np.int64)
    cnts = np.zeros(K, np.int64)
    k = 0
    vals[0] = a[0]
    for i in range(n):
        if a[i] != a[i - 1] and i > 0:
            k += 1
            vals[k] = a[i]
        cnts[k] += 1
    sym, cnt, lut, vals, ranks, M, b, c, L, flag, est = _plan(vals, cnts, n, e, vmin, False)
    return 0, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L, flag, est


@njit(cache=True)
def _raw_write(v, buf, width):
    """RAW payload: the width byte, then every zigzag value in ``width`` bits."""
    buf[0] = width
    o = 1
    acc = np.int64(0)
    nacc = 0
    for i in range(v.size):
        acc = (acc << width) | _zigzag(v[i])
        nacc += width
        while nacc >= 8:
            nacc -= 8
            buf[o] = (acc >> nacc) & 0xFF
            o += 1
        acc &= (np.int64(1) << nacc) - 1
    if nacc:
        buf[o] = (acc << (8 - nacc)) & 0xFF


def _leb128(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    return write_varint(n)


_EMPTY = ref.encode(np.zeros(0, np.int64))


def _as_symbols(symbols) -> np.ndarray:
    """Flat, native-order integer array in its own dtype (bools as uint8 0/1)."""
    a = np.asarray(symbols)
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    if not np.issubdtype(a.dtype, np.integer):
        if a.size == 0:
            return a.astype(np.int64)  # [] is float64 in numpy
        raise TypeError(f"VSC encodes integer arrays, got dtype {a.dtype}")
    a = a.reshape(-1)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype == np.uint64:
        if a.size and int(a.max()) > _LIMIT:
            bad = a[a > _LIMIT][0]
            raise ValueError(f"symbol value {int(bad)} is outside the encodable range "
                             f"[-2**31, 2**31]")
        a = a.astype(np.int64)
    return np.ascontiguousarray(a)


def _seal(kind: int, d: int, nbits: int, buf: np.ndarray, hlen: int, head: bytes) -> bytes:
    buf[:hlen] = np.frombuffer(head, np.uint8)
    crc = zlib.crc32(buf[hlen + 4:], zlib.crc32(head))
    buf[hlen:hlen + 4] = np.frombuffer(struct.pack("<I", crc), np.uint8)
    return buf.tobytes()


def _message(kind: int, d: int, nbits: int):
    head = b"GV" + bytes((ref.VERSION, kind)) + _leb128(d) + _leb128(nbits)
    hlen = len(head)
    buf = np.zeros(hlen + 4 + (nbits + 7) // 8, np.uint8)
    return head, hlen, buf


def encode(symbols) -> bytes:
    """Encode an integer array (any shape, flattened) with values in [-2**31, 2**31]:
    the same bytes as :func:`gossip.codecs.vsc.encode`, without widening the symbols."""
    v = _as_symbols(symbols)
    d = v.size
    if d == 0:
        return _EMPTY
    if v.dtype == np.int8:
        words = v[:d - d % 8].view(np.uint64)
        (code, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L, flag, est) = _analyse8(v, words)
    else:
        words = np.zeros(0, np.uint64)
        (code, vmin, vmax, sym, cnt, lut, vals, ranks, M, b, c, L, flag, est) = _analyse(v)
    if code:
        bad = v[(v < -_LIMIT) | (v > _LIMIT)][0]
        raise ValueError(f"symbol value {int(bad)} is outside the encodable range "
                         f"[-2**31, 2**31]")
    width = max(2 * vmax if vmax >= 0 else -2 * vmax - 1,
                2 * vmin if vmin >= 0 else -2 * vmin - 1).bit_length()
    raw_bits = 8 + d * width
    thr = ref.VSC_BUILD_SLACK * raw_bits
    if flag:  # a Golomb ratio near an integer: take numpy's parameters and estimate
        M = ref.golomb_parameter(cnt[1:], L)
        b, c = ref._truncated_binary(M)
        b, c = np.ascontiguousarray(b, np.int64), np.ascontiguousarray(c, np.int64)
        est = ref._expected_payload_bits(d, sym, cnt)
    elif abs(est - thr) <= _EPS * thr:
        est = ref._expected_payload_bits(d, sym, cnt)
    if est <= thr:
        if sym.size > 1:
            nbits, W = vsc_payload(v, words, sym, cnt, lut, vmin, vals, ranks, M, b, c, L)
        else:
            nbits, W = table_bits(sym, cnt)
        if nbits <= raw_bits:
            payload = W.astype(">u8").view(np.uint8)[:(nbits + 7) // 8]
            head = b"GV" + bytes((ref.VERSION, ref.KIND_VSC)) + _leb128(d) + _leb128(nbits)
            crc = zlib.crc32(payload, zlib.crc32(head))
            return head + struct.pack("<I", crc) + payload.tobytes()
    head, hlen, buf = _message(ref.KIND_RAW, d, raw_bits)
    _raw_write(v, buf[hlen + 4:], width)
    return _seal(ref.KIND_RAW, d, raw_bits, buf, hlen, head)


# ----------------------------------------------------------------------------- decoder

# error codes of the decode kernels (0 = fine)
_ERRORS = {
    1: "bit stream truncated inside the symbol count",
    2: "Elias-gamma exponent exceeds the accepted range",
    3: "empty vector declares distinct symbols",
    4: "impossible number of distinct symbols for the size",
    5: "symbol table exceeds this decoder's index range",
    6: "bit stream truncated inside the symbol table",
    7: "symbol zigzag value exceeds 2**32",
    8: "symbol table has duplicate symbols",
    9: "a symbol count exceeds the size",
    10: "symbol counts leave nothing for the first symbol",
    11: "symbol counts are not sorted in decreasing order",
    12: "symbols with equal counts are not sorted by value",
    13: "unexpected bits after the symbol table",
    14: "bit stream truncated inside the support quotients",
    15: "bit stream truncated inside the support remainders",
    16: "bit stream truncated inside the support last bits",
    17: "unexpected bits after the supports",
    18: "a support gap runs past the free slots of its symbol",
    19: "a symbol occurrence lies beyond its free slots",
    20: "support positions out of range",
    21: "raw zigzag value exceeds 2**32",
    22: "a symbol does not fit the requested output dtype",
}


@njit(cache=True)
def _read_gamma_batch(p, pos, nbits, count, maxexp):
    """``count`` batch gamma codes with exponents <= ``maxexp`` -> (code, pos, values)."""
    N = np.empty(count, np.int64)
    for i in range(count):
        q, pos = _read_unary(p, pos, nbits)
        if q < 0:
            return 6, pos, N
        if q > maxexp:
            return 2, pos, N
        N[i] = q
    for i in range(count):
        n = N[i]
        if n > nbits - pos:
            return 6, pos, N
        N[i] = (np.int64(1) << n) | _get(p, pos, n)
        pos += n
    return 0, pos, N


@njit(cache=True)
def _table(p, nbits, d):
    """Parse and check the symbol table -> (code, pos, sym, cnt, M, b, c, L, flag)."""
    e = np.zeros(0, np.int64)
    q, pos = _read_unary(p, 0, nbits)
    if q < 0:
        return 1, pos, e, e, e, e, e, e, False
    if q >= 63:  # > 63 is refused, 2**63 - 1 distinct symbols exceed any d
        return 2 if q > 63 else 4, pos, e, e, e, e, e, e, False
    if q > nbits - pos:
        return 1, pos, e, e, e, e, e, e, False
    K = ((np.int64(1) << q) | _get(p, pos, q)) - 1
    pos += q
    if d == 0:
        if K != 0:
            return 3, pos, e, e, e, e, e, e, False
        return 0, pos, e, e, e, e, e, e, False
    if K < 1 or K > d:
        return 4, pos, e, e, e, e, e, e, False
    if d >= (np.int64(1) << 62) or K >= ((np.int64(1) << 62) + d) // (d + 1):
        return 5, pos, e, e, e, e, e, e, False
    if K > nbits - pos:  # every code takes a bit: refuse before allocating K entries
        return 6, pos, e, e, e, e, e, e, False
    # exponent >= 33 means zigzag >= 2**33 - 1 > 2**32 (refused by the reference as well)
    code, pos, zz = _read_gamma_batch(p, pos, nbits, K, 32)
    if code:
        return code, pos, e, e, e, e, e, e, False
    sym = np.empty(K, np.int64)
    for k in range(K):
        z = zz[k] - 1
        if z > 4294967296 or z < 0:
            return 7, pos, e, e, e, e, e, e, False
        sym[k] = (z >> 1) ^ -(z & 1)
    srt = np.sort(sym)
    for k in range(1, K):
        if srt[k] == srt[k - 1]:
            return 8, pos, e, e, e, e, e, e, False
    # exponent >= 63 means a count >= 2**63 > d (refused by the reference as well)
    code, pos, nk = _read_gamma_batch(p, pos, nbits, K - 1, 62)
    if code:
        return code, pos, e, e, e, e, e, e, False
    rest = np.int64(0)
    for j in range(K - 1):
        if nk[j] > d or nk[j] < 1:  # < 1: 2**63 wrapped around
            return 9, pos, e, e, e, e, e, e, False
        rest += nk[j]  # < K * d < 2**62
    if rest > d - 1:
        return 10, pos, e, e, e, e, e, e, False
    cnt = np.empty(K, np.int64)
    cnt[0] = d - rest
    cnt[1:] = nk
    for k in range(1, K):
        if cnt[k] > cnt[k - 1]:
            return 11, pos, e, e, e, e, e, e, False
    for k in range(1, K):
        if cnt[k] == cnt[k - 1] and sym[k] <= sym[k - 1]:
            return 12, pos, e, e, e, e, e, e, False
    if K == 1:
        if pos != nbits:
            return 13, pos, sym, cnt, e, e, e, e, False
        return 0, pos, sym, cnt, e, e, e, e, False
    L = _free_slots(nk, d)
    M, b, c, flag = _golomb(nk, L)
    return 0, pos, sym, cnt, M, b, c, L, flag


@njit(cache=True)
def _gap(p, j, uc, pc, lc, M, b, c, L, nbits):
    """Next Golomb gap of coded symbol ``j`` (cursors advanced) -> gap, or -1 if invalid."""
    q, nu = _read_unary(p, uc[j], nbits)
    uc[j] = nu
    wb = b[j] - 1
    v = np.int64(0)
    if wb > 0:
        v = _get(p, pc[j], wb)
        pc[j] += wb
    m = M[j]
    cj = c[j]
    if v >= cj and m > 1:
        bit = _peek56(p, lc[j]) >> 55
        lc[j] += 1
        rem = 2 * v + bit - cj
    else:
        rem = v
    Lj = L[j]
    if q < 0 or q > (Lj - 1) // m:
        return np.int64(-1)
    g = q * m + rem
    if g >= Lj:
        return np.int64(-1)
    return g


@njit(cache=True)
def _tree_build(P, vals):
    mn = np.full(2 * P, _INF, np.int64)
    ad = np.zeros(2 * P, np.int64)
    for j in range(vals.size):
        mn[P + j] = vals[j]
    for x in range(P - 1, 0, -1):
        mn[x] = min(mn[2 * x], mn[2 * x + 1])
    return mn, ad


@njit(cache=True)
def _tree_fix(mn, ad, x):
    x >>= 1
    while x >= 1:
        mn[x] = min(mn[2 * x], mn[2 * x + 1]) + ad[x]
        x >>= 1


@njit(cache=True)
def _supports_decode(p, nbits, pos, sym, cnt, M, b, c, L, out, small):
    """Decode the supports into ``out`` (pre-filled with the first symbol) -> error code."""
    K = sym.size
    J = K - 1
    d = out.size
    nk = cnt[1:]
    G = np.int64(0)
    for j in range(J):
        G += nk[j]
    if G > nbits - pos:
        return 14
    uc = np.empty(J, np.int64)
    pc = np.empty(J, np.int64)
    lc = np.empty(J, np.int64)
    cur = pos
    for j in range(J - 1, -1, -1):
        uc[j] = cur
        cur = _skip_unary(p, cur, nbits, nk[j])
        if cur < 0:
            return 14
    for j in range(J - 1, -1, -1):
        pc[j] = cur
        wb = max(b[j] - 1, 0)
        if wb > 0 and nk[j] > (nbits - cur) // wb:
            return 15
        cur += nk[j] * wb
    for j in range(J - 1, -1, -1):
        lc[j] = cur
        if M[j] > 1:
            wb = max(b[j] - 1, 0)
            if wb == 0:
                if c[j] == 0:
                    cur += nk[j]
            else:
                pp = pc[j]
                cj = c[j]
                for t in range(nk[j]):
                    if _get(p, pp, wb) >= cj:
                        cur += 1
                    pp += wb
        if cur > nbits:
            return 16
    if cur != nbits:
        return 17
    s0 = sym[0]
    for i in range(d):
        out[i] = s0
    E = np.empty(J, np.int64)
    last = np.empty(J, np.int64)
    left = nk.copy()
    for j in range(J):
        g = _gap(p, j, uc, pc, lc, M, b, c, L, nbits)
        if g < 0:
            return 18
        E[j] = g
        last[j] = g
    linear = J <= small
    P = 1
    while P < J:
        P *= 2
    if linear:
        mn, ad = E[:0], E[:0]
    else:
        mn, ad = _tree_build(P, E)
    for _ in range(G):
        if linear:
            js = 0
            best = E[0]
            for j in range(1, J):
                if E[j] <= best:
                    best = E[j]
                    js = j
            at = best
        else:
            x = 1
            while x < P:
                if mn[2 * x + 1] <= mn[2 * x]:
                    x = 2 * x + 1
                else:
                    x = 2 * x
            js = x - P
            at = mn[1]
        if at >= d:
            return 20
        out[at] = sym[js + 1]
        left[js] -= 1
        if left[js] > 0:
            g = _gap(p, js, uc, pc, lc, M, b, c, L, nbits)
            if g < 0:
                return 18
            slot = last[js] + g + 1
            if slot >= L[js]:
                return 19
            last[js] = slot
            nxt = at + 1 + g
        else:
            nxt = _INF
        if linear:
            for j in range(js):
                E[j] += 1
            E[js] = nxt
        else:
            # +1 on the leaves [0, js), then set leaf js to nxt
            lo = P
            hi = P + js
            l0 = lo
            r0 = hi
            while lo < hi:
                if lo & 1:
                    mn[lo] += 1
                    if lo < P:
                        ad[lo] += 1
                    lo += 1
                if hi & 1:
                    hi -= 1
                    mn[hi] += 1
                    if hi < P:
                        ad[hi] += 1
                lo >>= 1
                hi >>= 1
            if r0 > l0:
                _tree_fix(mn, ad, l0)
                _tree_fix(mn, ad, r0 - 1)
            x = P + js
            acc = np.int64(0)
            y = x >> 1
            while y >= 1:
                acc += ad[y]
                y >>= 1
            mn[x] = nxt - acc
            _tree_fix(mn, ad, x)
    return 0


@njit(cache=True)
def _raw_decode(p, d, width, out, lo, hi):
    """RAW fields after the width byte -> error code."""
    pos = 8
    for i in range(d):
        z = _get(p, pos, width)
        pos += width
        if z > 4294967296:
            return 21
        x = (z >> 1) ^ -(z & 1)
        if x < lo or x > hi:
            return 22
        out[i] = x
    return 0


_DTYPES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max))
           for t in (np.int8, np.int16, np.int32, np.int64)}
_NARROW = [(np.dtype(t), int(np.iinfo(t).min), int(np.iinfo(t).max))
           for t in (np.int8, np.int16, np.int32, np.int64)]


def _pick_dtype(dtype, lo: int, hi: int) -> np.dtype:
    if dtype is None:
        for dt, a, b in _NARROW:
            if a <= lo and hi <= b:
                return dt
        return np.dtype(np.int64)
    dt = np.dtype(dtype)
    a, b = _DTYPES[dt]
    if lo < a or hi > b:
        raise DecodeError(f"symbols in [{lo}, {hi}] do not fit the requested dtype {dt}")
    return dt


def _as_u8(data) -> np.ndarray:
    if isinstance(data, bytes):
        return np.frombuffer(data, np.uint8)
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise DecodeError(f"expected a uint8 array or bytes, got an array of {data.dtype}")
        return np.ascontiguousarray(data).reshape(-1)
    if isinstance(data, (bytearray, memoryview)):
        mv = memoryview(data)
        if not mv.c_contiguous:
            return np.frombuffer(mv.tobytes(), np.uint8)
        return np.frombuffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv, np.uint8)
    raise DecodeError(f"expected bytes or a uint8 array, got {type(data).__name__}")


def _fail(code: int):
    raise DecodeError(_ERRORS[code])


def _decode_strict(data, expected_size, max_entries, dtype, small=_SMALL_K) -> np.ndarray:
    if dtype is not None and np.dtype(dtype) not in _DTYPES:
        raise ValueError(f"dtype must be one of int8, int16, int32, int64, got {dtype}")
    buf = _as_u8(data)
    n = buf.size
    head = buf[:24].tobytes()
    _, kind, d, nbits, hlen = ref._parse_header(head)
    if d > max_entries:
        raise DecodeError(f"message declares {d} entries, more than max_entries={max_entries}")
    if expected_size is not None and d != expected_size:
        raise DecodeError(f"message declares {d} entries, expected {expected_size}")
    expected_len = hlen + 4 + (nbits + 7) // 8
    if n != expected_len:
        how = "truncated" if n < expected_len else "trailing bytes"
        raise DecodeError(
            f"message length mismatch ({how}): expected {expected_len} bytes, got {n}")
    payload = buf[hlen + 4:]
    (crc,) = struct.unpack_from("<I", head, hlen) if hlen + 4 <= 24 else \
        struct.unpack("<I", buf[hlen:hlen + 4].tobytes())
    if crc != zlib.crc32(payload, zlib.crc32(head[:hlen])):
        raise DecodeError("checksum mismatch: the message is corrupted")
    if nbits % 8 and int(payload[-1]) & ((1 << (8 - nbits % 8)) - 1):
        raise DecodeError("nonzero padding bits after the payload")
    if kind == ref.KIND_RAW:
        if nbits < 8:
            raise DecodeError("raw payload truncated inside the width byte")
        width = int(payload[0])
        if width > ref.MAX_RAW_WIDTH:
            raise DecodeError(f"raw field width {width} exceeds {ref.MAX_RAW_WIDTH}")
        if d * width != nbits - 8:
            raise DecodeError(f"raw payload needs {d * width} bits for {d} fields of "
                              f"{width} bits but {nbits - 8} remain")
        if width == 0:
            lo = hi = 0
        else:  # the widest values a width allows (a zigzag of 2**32 is refused below)
            lo, hi = -(1 << (min(width, 33) - 1)), (1 << (min(width, 33) - 1)) - 1
            hi = min(hi, _LIMIT)
            if width == 33:
                hi = _LIMIT
        if dtype is None:
            dt = _pick_dtype(None, lo, hi)
            blo, bhi = _DTYPES[dt]
        else:
            dt = np.dtype(dtype)
            blo, bhi = _DTYPES[dt]
        out = np.empty(d, dt)
        code = _raw_decode(_words(payload), d, width, out, blo, bhi)
        if code:
            _fail(code)
        return out
    words = _words(payload)
    code, pos, sym, cnt, M, b, c, L, flag = _table(words, nbits, d)
    if code:
        _fail(code)
    if d == 0:
        if pos != nbits:
            raise DecodeError(f"{nbits - pos} unexpected bits after the payload")
        return np.zeros(0, _pick_dtype(dtype, 0, 0))
    lo, hi = int(sym.min()), int(sym.max())
    dt = _pick_dtype(dtype, lo, hi)
    if sym.size == 1:
        return np.full(d, lo, dt)
    if flag:  # a Golomb ratio near an integer: take numpy's parameters
        M = ref.golomb_parameter(cnt[1:], L)
        b, c = ref._truncated_binary(M)
        b, c = np.ascontiguousarray(b, np.int64), np.ascontiguousarray(c, np.int64)
    out = np.empty(d, dt)
    code = _supports_decode(words, nbits, pos, sym, cnt, M, b, c, L, out, small)
    if code:
        _fail(code)
    return out


def decode(data, *, max_entries: int | None = None, expected_size: int | None = None,
           dtype=None) -> np.ndarray:
    """Decode a VSC message into a 1-D integer array; the values of
    :func:`gossip.codecs.vsc.decode`, which accepts exactly the same messages.

    ``dtype``: None (default) gives the narrowest of int8/int16/int32/int64 holding the
    message's symbols (int8 for quantizer output: the symbol table, or the RAW field
    width, decides before anything is allocated); an explicit int dtype is used as is and a
    symbol outside its range is a DecodeError.  ``max_entries`` (None: 2**28, the
    reference default) and ``expected_size`` are checked before any allocation.
    Raises :class:`DecodeError` (only) for anything malformed.
    """
    if max_entries is None:
        max_entries = 2**28
    try:
        return _decode_strict(data, expected_size, max_entries, dtype)
    except DecodeError:
        raise
    except (IndexError, OverflowError, TypeError, ZeroDivisionError, struct.error) as exc:
        # safety net only; the tests fuzz _decode_strict directly to show it is unused
        raise DecodeError(f"malformed message ({type(exc).__name__}: {exc})") from exc
