"""Compiled VSC decoder (see :mod:`gossip.kernels.vsc` for what it mirrors)."""

from __future__ import annotations


import numpy as np
from ._jit import njit

from .vsc_bits import (_INF, _peek56, _get, _read_unary, _skip_unary, _free_slots, _golomb)


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
def _gap(p, j, cur, par, nbits):
    """Next Golomb gap of coded symbol ``j`` -> gap, or -1 if invalid.  ``cur[0..2, j]``: its
    unary, remainder and last-bit cursors (advanced); ``par[0..4, j]``: M, b, c, L and
    ``(L - 1) // M``, the largest quotient that fits.  Two array arguments, not nine: every
    array argument costs a reference count update per call."""
    q, nu = _read_unary(p, cur[0, j], nbits)
    cur[0, j] = nu
    wb = par[1, j] - 1
    v = np.int64(0)
    if wb > 0:
        v = _get(p, cur[1, j], wb)
        cur[1, j] += wb
    m = par[0, j]
    cj = par[2, j]
    if v >= cj and m > 1:
        bit = _peek56(p, cur[2, j]) >> 55
        cur[2, j] += 1
        rem = 2 * v + bit - cj
    else:
        rem = v
    if q < 0 or q > par[4, j]:
        return np.int64(-1)
    g = q * m + rem
    if g >= par[3, j]:
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
def _supports_decode(p, nbits, pos, sym, cnt, M, b, c, L, out):
    """Decode the supports into ``out`` -> error code; the occurrences in position order,
    the next one of every symbol in a segment tree (more than ``WALK_MAX_J`` symbols)."""
    K = sym.size
    J = K - 1
    d = out.size
    nk = cnt[1:]
    G = np.int64(0)
    for j in range(J):
        G += nk[j]
    if G > nbits - pos:
        return 14
    curs = np.empty((3, J), np.int64)
    uc, pc, lc = curs[0], curs[1], curs[2]
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
    par = np.empty((5, J), np.int64)
    for j in range(J):
        par[0, j], par[1, j], par[2, j], par[3, j] = M[j], b[j], c[j], L[j]
        par[4, j] = (L[j] - 1) // M[j]
    for j in range(J):
        g = _gap(p, j, curs, par, nbits)
        if g < 0:
            return 18
        E[j] = g
        last[j] = g
    P = 1
    while P < J:
        P *= 2
    mn, ad = _tree_build(P, E)
    for _ in range(G):
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
            g = _gap(p, js, curs, par, nbits)
            if g < 0:
                return 18
            slot = last[js] + g + 1
            if slot >= L[js]:
                return 19
            last[js] = slot
            nxt = at + 1 + g
        else:
            nxt = _INF
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
