"""Bit readers and the Golomb math shared by the compiled VSC encoder and decoder."""

from __future__ import annotations

import math
import sys

import numpy as np
from ._jit import njit

from ._llvm import clz64, popcount64

_MASK56 = (1 << 56) - 1
_LITTLE = sys.byteorder == "little"
_INF = 1 << 62
_LIMIT = 2**31
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
    w = padded.view(np.uint64)
    if _LITTLE:
        w.byteswap(inplace=True)  # one copy, not two (.view(">u8").astype)
    return w


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
