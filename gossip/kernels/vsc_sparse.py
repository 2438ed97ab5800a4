"""The sparse form of the VSC bitmap walk (numba): when coded occurrences are few (at most
``SPARSE`` per 64 entries), a symbol's slots (ranks among the positions still free) come from a
branch-free merge of its sorted positions with the sorted taken ones, instead of a walk over
every word of the taken bitmap; the decoder maps slots back to positions the same way.  Work
``O(d / 64 + J G)`` for ``G`` coded occurrences of ``J`` symbols, and no branch per word or per
slot search (at 1% nonzeros the bitmap walk mispredicts on most words)."""

from __future__ import annotations

import numpy as np
from numba import njit

SPARSE = 1.0  # the sparse walk for at most this many coded occurrences per word of 64


def sparse_capacity(d: int) -> int:
    """The most coded occurrences for which the sparse walk is taken (``SPARSE`` per word)."""
    return min(d, int(SPARSE * ((d + 63) // 64)))


def sparse_scratch(d: int, cnt, parts: int) -> np.ndarray:
    """The sparse walk's scratch: ``parts`` int64 arrays of one entry per coded occurrence
    (taken positions, merged ones, slots, positions), or an empty array when the coded
    occurrences are too many for the sparse walk to pay (see ``SPARSE``)."""
    G = d - int(cnt[0])  # every occurrence but the most frequent symbol's is coded
    return np.zeros(parts * G if G <= sparse_capacity(d) else 0, np.int64)


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
def _sparse_buckets(v, lut, vmin, vals, ranks, cnt, pos, buck):
    """The coded positions ``pos`` (in order; :func:`.vsc_plan.rows8` records them) into
    ``buck``, bucketed by coded rank (stable) -> each rank's bucket start."""
    J = cnt.size - 1
    G = buck.size
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
