"""The sparse form of the VSC bitmap walk (numba): when coded occurrences are few (at most
``SPARSE`` per 64 entries), the encoder gets every symbol's slots (ranks among the positions
still free) in one pass over the coded positions (:func:`_sparse_slots`, ``O(J G)`` for ``G``
coded occurrences of ``J`` symbols), and the decoder maps a symbol's slots back to positions by
a branch-free merge with the sorted taken ones (:func:`_merge`), instead of a walk over every
word of the taken bitmap (at 1% nonzeros the bitmap walk mispredicts on most words)."""

from __future__ import annotations

import numpy as np
from ._jit import njit

SPARSE = 1.0  # the sparse walk for at most this many coded occurrences per word of 64


def sparse_capacity(d: int) -> int:
    """The most coded occurrences for which the sparse walk is taken (``SPARSE`` per word)."""
    return min(d, int(SPARSE * ((d + 63) // 64)))


def sparse_scratch(d: int, G: int, parts: int) -> np.ndarray:
    """The sparse walk's scratch for ``G`` coded occurrences (every one but the most
    frequent symbol's): ``parts`` int64 arrays of one entry each (taken positions, merged
    ones, slots, positions), or an empty array when the coded occurrences are too many for
    the sparse walk to pay (see ``SPARSE``).  Not zeroed: the walk reads only what it wrote."""
    return np.empty(parts * G if G <= sparse_capacity(d) else 0, np.int64)


@njit(cache=True, inline="always")
def _merge(tp, ntp, src, k, out, res):
    """The decoder's merge of a symbol's ``k`` sorted slots ``src`` with the taken positions
    ``tp[:ntp]`` into ``out`` (sorted), branch-free -> the merged count; ``res`` gets the
    slots' positions (slot ``s`` lies before ``tp[i]`` iff ``s + i < tp[i]``)."""
    i = np.int64(0)
    o = np.int64(0)
    jn = np.int64(0)
    top = np.int64(1) << 62
    while jn < k:
        a = tp[i] if i < ntp else top
        x = src[jn] + i  # a position
        take = np.int64(x < a)
        out[o] = x if take else a
        res[jn] = x
        i += 1 - take
        jn += take
        o += 1
    while i < ntp:
        out[o] = tp[i]
        i += 1
        o += 1
    return ntp + k


@njit(cache=True)
def _sparse_slots(v, lut, vmin, vals, ranks, cnt, pos, buck):
    """The encoder's slots without a merge: one pass over the coded positions ``pos`` (in
    order; :func:`.vsc_plan.rows8` records them) puts each one's slot in its coded rank's
    bucket of ``buck`` -> each rank's bucket start.  Rank ``j``'s slot of position ``p`` is
    ``p`` minus the occurrences before it of the rarer ranks (``> j``, coded first):
    ``above[j]`` counts them as the pass goes."""
    J = cnt.size - 1
    G = buck.size
    off = np.zeros(J + 1, np.int64)
    for j in range(J):
        off[j + 1] = off[j] + cnt[j + 1]
    fill = off[:J].copy()
    above = np.zeros(J, np.int64)
    use_lut = lut.size > 0
    for i in range(G):
        p = pos[i]
        x = np.int64(v[p])
        j = lut[x - vmin] - 1 if use_lut else ranks[np.searchsorted(vals, x)] - 1
        buck[fill[j]] = p - above[j]
        fill[j] += 1
        for r in range(j):
            above[r] += 1
    return off
