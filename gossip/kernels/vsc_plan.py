"""The VSC encoder's plan (numba): the histogram of the symbols, their order (count desc,
value asc), the rank lookup and the Golomb parameters with the closed-form size estimate;
for quantizer-like int8 symbols, all of it and the walk's scratch sizes in one call
(:func:`_plan8`)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .vsc_bits import _HIST_SPAN, _LIMIT, _estimate, _free_slots, _golomb
from .vsc_enc import hist8
from .vsc_walk import rows8, scratch_words


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
def _minmax8(v):
    lo = hi = v[0]
    for i in range(v.size):
        lo = min(lo, v[i])
        hi = max(hi, v[i])
    return np.int64(lo), np.int64(hi)


@njit(cache=True)
def _plan8(v, words, lo, R, walk, sparse):
    """The quantizer-like int8 plan in one call: :func:`rows8` (histogram and bitmaps),
    the Golomb plan, each coded symbol's row of ``R`` and the scratch sizes of
    :func:`walk_encode` (its ``S`` words and its sparse ``Q`` entries) -> (usable, estimate,
    sym, cnt, lut, M, b, c, rowof, S size, Q size); not usable (mode not 0, a Golomb ratio
    near an integer, too many symbols): the general path."""
    d = v.size
    sym, cnt, lut, vals, ranks, M, b, c, L, flag, est = _from_counts(rows8(v, words, lo, R),
                                                                    lo, d)
    J = sym.size - 1
    rowof = sym[1:] - lo - (sym[1:] > 0)
    if sym[0] != 0 or flag or J < 1 or J > walk:
        return False, est, sym, cnt, lut, M, b, c, rowof, 0, 0
    se, nw, sw, sp, sb = scratch_words(d, cnt, M, b, True)
    G = d - cnt[0]
    return True, est, sym, cnt, lut, M, b, c, rowof, se + nw + sw + sp + sb, \
        4 * G + nw if G <= sparse * nw else 0
