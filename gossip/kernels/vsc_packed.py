"""One-array interfaces to the VSC plan, table and walks (numba), for the usual calls.

Crossing from Python into numba costs about a third of a microsecond per array returned
(boxed) and a little per array passed; the plan and the table are nine arrays of a few
entries each, so at d = 1e5 that crossing cost as much as the kernels.  Here the plan of
quantizer-like int8 symbols and a message's symbol table come back as one int64 array
``T`` (rows ``sym, cnt, M, b, c, L`` and, for the plan, the rank lookup ``lut``; ``K``
columns hold the table, ``K - 1`` the Golomb rows), with the scalars the caller decides on,
and the walks take ``T`` back.  The kernels themselves are those of :mod:`.vsc_plan`,
:mod:`.vsc_dec` and :mod:`.vsc_walk`; the bytes and every check are theirs.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .vsc_dec import _table
from .vsc_plan import plan8
from .vsc_walk import scratch_words, walk_encode
from .vsc_wdec import walk_decode


@njit(cache=True)
def plan8_packed(v, lo, R, pos):
    """:func:`.vsc_plan.plan8` -> (T, K, flag, estimate, scratch words of the walk)."""
    sym, cnt, lut, vals, ranks, M, b, c, L, flag, est = plan8(v, lo, R, pos)
    K = sym.size
    T = np.zeros((7, max(lut.size, K)), np.int64)
    T[0, :K] = sym
    T[1, :K] = cnt
    T[2, :K - 1] = M
    T[3, :K - 1] = b
    T[4, :K - 1] = c
    T[5, :K - 1] = L
    T[6, :lut.size] = lut
    sw = np.int64(0)
    if K >= 2:
        se, nw, s_w, sp, sb = scratch_words(v.size, cnt, M, b, True)
        sw = se + nw + s_w + sp + sb
    return T, K, flag, est, sw


@njit(cache=True)
def walk8(v, T, K, vmin, S, R, Q, pos):
    """:func:`.vsc_walk.walk_encode` on the plan of :func:`plan8_packed` (``R``: its
    bitmaps; ``S``: zeroed scratch of the size it gave)."""
    e = np.zeros(0, np.int64)
    return walk_encode(v, T[6].copy(), vmin, e, e, T[0, :K].copy(), T[1, :K].copy(),
                       T[2, :K - 1].copy(), T[3, :K - 1].copy(), T[4, :K - 1].copy(), S, R, Q,
                       pos)


@njit(cache=True)
def table_packed(p, nbits, d):
    """:func:`.vsc_dec._table` -> (code, pos, flag, T, K, lowest and highest symbol, coded
    occurrences ``d - cnt[0]``); ``T`` holds what the table gave (nothing past an error)."""
    code, pos, sym, cnt, M, b, c, L, flag = _table(p, nbits, d)
    K = sym.size
    T = np.zeros((6, max(K, 1)), np.int64)
    lo = hi = G = np.int64(0)
    if code == 0 and K > 0:
        T[0, :K] = sym
        T[1, :K] = cnt
        if M.size == K - 1:
            T[2, :K - 1] = M
            T[3, :K - 1] = b
            T[4, :K - 1] = c
            T[5, :K - 1] = L
        lo, hi = sym.min(), sym.max()
        G = d - cnt[0]
    return code, pos, flag, T, K, lo, hi, G


@njit(cache=True)
def walk_decode_packed(p, nbits, pos, T, K, out, Tw, Q):
    """:func:`.vsc_wdec.walk_decode` on the table of :func:`table_packed` (``Tw``: its
    ``T``)."""
    return walk_decode(p, nbits, pos, T[0, :K].copy(), T[1, :K].copy(), T[2, :K - 1].copy(),
                       T[3, :K - 1].copy(), T[4, :K - 1].copy(), T[5, :K - 1].copy(), out,
                       Tw, Q)
