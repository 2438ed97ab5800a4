"""The sparse form of the VSC bitmap walk (numba): when coded occurrences are few (at most
``SPARSE`` per 64 entries), a symbol's slots (ranks among the positions still free) come from a
branch-free merge of its sorted positions with the sorted taken ones, instead of a walk over
every word of the taken bitmap; the decoder maps slots back to positions the same way.  Work
``O(d / 64 + J G)`` for ``G`` coded occurrences of ``J`` symbols, and no branch per word or per
slot search (at 1% nonzeros the bitmap walk mispredicts on most words)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._llvm import ctz64

_ONE = np.uint64(1)
SPARSE = 1.0  # the sparse walk for at most this many coded occurrences per word of 64


def sparse_scratch(d: int, cnt, parts: int, words: bool = False) -> np.ndarray:
    """The sparse walk's scratch: ``parts`` int64 arrays of one entry per coded occurrence
    (sorted positions, merged ones, slots), then (``words``: the encoder's) ``ceil(d / 64)``
    words for the OR of the bitmaps; or an empty array when the coded occurrences are too
    many for the sparse walk to pay (see ``SPARSE``)."""
    G = d - int(cnt[0])  # every occurrence but the most frequent symbol's is coded
    nw = (d + 63) // 64
    return np.zeros(parts * G + nw * words if G <= SPARSE * nw else 0, np.int64)


@njit(cache=True, inline="always")
def _merge(tp, ntp, src, k, out, res, decode):
    """Merge a symbol's ``k`` sorted entries with the taken positions ``tp[:ntp]`` into
    ``out`` (sorted), branch-free -> the merged count.  Encoder (``decode`` 0): ``src``
    holds positions and ``res`` gets their slots (rank among the free positions: the
    position minus the taken ones before it).  Decoder (1): ``src`` holds slots and ``res``
    gets their positions (slot ``s`` lies before ``tp[i]`` iff ``s + i < tp[i]``)."""
    i = np.int64(0)
    o = np.int64(0)
    jn = np.int64(0)
    top = np.int64(1) << 62
    while jn < k:
        a = tp[i] if i < ntp else top
        x = src[jn] + decode * i  # a position
        take = np.int64(x < a)
        out[o] = x if take else a
        res[jn] = x - (1 - decode) * i
        i += 1 - take
        jn += take
        o += 1
    while i < ntp:
        out[o] = tp[i]
        i += 1
        o += 1
    return ntp + k


@njit(cache=True)
def _sparse_buckets(v, lut, vmin, vals, ranks, cnt, R, Q):
    """For the sparse walk (at most ``SPARSE`` coded occurrences per word): every coded
    position, in order, from the OR of ``R``'s rows (mode 0: they hold every coded entry),
    bucketed by coded rank (stable) into ``Q``'s second part -> each rank's bucket start.
    ``Q``: :func:`sparse_scratch` with 4 parts and the words (positions, buckets, taken,
    merged; the OR)."""
    J = cnt.size - 1
    nw = R.shape[1]
    G = (Q.size - nw) // 4
    pos, buck = Q[:G], Q[G:2 * G]
    every = Q[4 * G:].view(np.uint64)
    every[:] = R[0]  # row by row: vectorised
    for r in range(1, R.shape[0]):
        every |= R[r]
    g = np.int64(0)
    for w in range(R.shape[1]):
        o = every[w]
        while o:
            pos[g] = 64 * w + ctz64(o)
            o &= o - _ONE
            g += 1
    off = np.zeros(J + 1, np.int64)
    for j in range(J):
        off[j + 1] = off[j] + cnt[j + 1]
    fill = off[:J].copy()
    use_lut = lut.size > 0
    for i in range(G):
        x = np.int64(v[pos[i]])
        j = lut[x - vmin] - 1 if use_lut else ranks[np.searchsorted(vals, x)] - 1
        buck[fill[j]] = pos[i]
        fill[j] += 1
    return off
