"""Compiled VSC encoder core: the int8 histogram, the bit writers and symbol table shared
with :mod:`.vsc_walk`, and the one-pass support writer for more than ``WALK_MAX_J`` coded
symbols.

Bits are written MSB-first into zeroed uint64 word buffers with a stateless OR of at most
two words per code (no per-bit or per-byte loops).  The support pass visits only the
entries that differ from the most frequent symbol: a vector compare per block of 64 entries
(:func:`.eqmask64`) skips the blocks of first symbols at once, and count-trailing-zeros
walks the differing entries of the others.  Each occurrence's slot (its index among the entries not
claimed by rarer symbols) is its position minus the rarer occurrences seen so far (a
Fenwick tree over the ranks), and its Golomb code goes into per-symbol scratch regions sized by an exact bound
(``n_k + (L_k - n_k) // M_k`` unary bits), which are then concatenated in stream order.
So the symbols are read twice in all (histogram, supports), never widened.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from ._llvm import clz64, ctz64, eqmask64
from .vsc_bits import _zigzag


@njit(cache=True, inline="always")
def _bitlen(x):
    return 64 - clz64(x)


@njit(cache=True, inline="always")
def wput(W, pos, value, width):
    """OR ``value`` (``< 2**width``, ``0 <= width <= 64``) MSB-first at bit ``pos`` of the
    uint64 word buffer ``W`` -> ``pos + width``."""
    if width == 0:
        return pos
    k = pos >> 6
    end = (pos & 63) + width
    u = np.uint64(value)
    if end <= 64:
        W[k] |= u << np.uint64(64 - end)
    else:
        W[k] |= u >> np.uint64(end - 64)
        W[k + 1] |= u << np.uint64(128 - end)
    return pos + width


@njit(cache=True, inline="always")
def wunary(W, pos, q):
    """``q`` ones then a zero -> position after the zero."""
    while q >= 57:
        pos = wput(W, pos, (np.int64(1) << 57) - 1, 57)
        q -= 57
    return wput(W, pos, ((np.int64(1) << q) - 1) << 1, q + 1)


@njit(cache=True)
def wgamma_batch(W, pos, vals):
    """Batch Elias-gamma of ``vals >= 1``: every unary exponent, then every low part."""
    for i in range(vals.size):
        pos = wunary(W, pos, _bitlen(vals[i]) - 1)
    for i in range(vals.size):
        n = _bitlen(vals[i]) - 1
        pos = wput(W, pos, vals[i] & ((np.int64(1) << n) - 1), n)
    return pos


@njit(cache=True)
def _wcopy(W, pos, T, start, nbits):
    """Append ``nbits`` bits of ``T`` from the word-aligned bit ``start`` at ``pos``."""
    s = start >> 6
    full = nbits >> 6
    for t in range(full):
        pos = wput(W, pos, T[s + t], 64)
    rem = nbits & 63
    if rem:
        pos = wput(W, pos, T[s + full] >> np.uint64(64 - rem), rem)
    return pos


@njit(cache=True)
def hist8(v, words):
    """Counts of the 256 int8 values (index ``value + 128``); ``words`` is ``v``'s first
    ``8 * words.size`` bytes as uint64 and all-zero words are counted eight at a time.  One
    table per byte lane, so runs of one value do not chain on one counter."""
    lanes = np.zeros((8, 256), np.int64)
    zeros = np.int64(0)
    for k in range(words.size):
        w = words[k]
        if w == 0:
            zeros += 8
            continue
        for t in range(8):
            lanes[t, (np.int64(w >> np.uint64(8 * t)) + 128) & 255] += 1
    counts = np.zeros(256, np.int64)
    for t in range(8):
        counts += lanes[t]
    for i in range(8 * words.size, v.size):
        counts[np.int64(v[i]) + 128] += 1
    counts[128] += zeros
    return counts


@njit(cache=True)
def _mask_any(v, i0, i1, mode):
    """Bit t set <=> ``v[i0 + t] != mode`` (``i1 - i0 <= 64``)."""
    m = np.uint64(0)
    for t in range(i1 - i0):
        if v[i0 + t] != mode:
            m |= np.uint64(1) << np.uint64(t)
    return m


@njit(cache=True)
def _regions(cnt, M, b, L):
    """Word-aligned starts (bits) of the unary, prefix and last-bit scratch regions of every
    coded symbol, and the scratch size in words."""
    J = cnt.size - 1
    su = np.empty(J, np.int64)
    sp = np.empty(J, np.int64)
    sl = np.empty(J, np.int64)
    w = np.int64(0)
    for j in range(J):
        n = cnt[j + 1]
        su[j] = 64 * w
        w += (n + (L[j] - n) // M[j]) // 64 + 2
        sp[j] = 64 * w
        w += (n * max(b[j] - 1, 0)) // 64 + 2
        sl[j] = 64 * w
        w += n // 64 + 2
    return su, sp, sl, w


@njit(cache=True)
def table_write(W, sym, cnt):
    """The symbol table: three gamma batches (``K + 1``; zigzags + 1; ``n_2..n_K``) -> bits."""
    K = sym.size
    head = np.full(1, K + 1, np.int64)
    pos = wgamma_batch(W, 0, head)
    if K:
        zz = np.empty(K, np.int64)
        for k in range(K):
            x = np.int64(sym[k])
            zz[k] = ((x << 1) ^ (x >> 63)) + 1
        pos = wgamma_batch(W, pos, zz)
        pos = wgamma_batch(W, pos, cnt[1:])
    return pos


@njit(cache=True)
def table_bits(sym, cnt):
    W = np.zeros(2 * sym.size + 4, np.uint64)
    return table_write(W, sym, cnt), W


@njit(cache=True)
def vsc_payload(v, sym, cnt, lut, vmin, vals, ranks, M, b, c, L):
    """The whole VSC payload (``K >= 2``) -> (nbits, words)."""
    J = sym.size - 1
    n = v.size
    mode = sym[0]
    su, sp, sl, tw = _regions(cnt, M, b, L)
    T = np.zeros(tw, np.uint64)
    uc, pc, lc = su.copy(), sp.copy(), sl.copy()
    inv = np.empty(J, np.float64)
    for j in range(J):
        inv[j] = 1.0 / M[j]
    last = np.full(J, -1, np.int64)
    fw = np.zeros(J + 1, np.int64)
    use_lut = lut.size > 0
    seen = np.int64(0)
    for i0 in range(0, n, 64):
        m = ~eqmask64(v, i0, mode) if i0 + 64 <= n else _mask_any(v, i0, n, mode)
        while m:
            i = i0 + ctz64(m)
            m &= m - np.uint64(1)
            x = np.int64(v[i])
            j = lut[x - vmin] - 1 if use_lut else ranks[np.searchsorted(vals, x)] - 1
            s = np.int64(0)  # Fenwick tree: occurrences of rank <= j seen so far
            t = j + 1
            while t > 0:
                s += fw[t]
                t -= t & -t
            t = j + 1
            while t <= J:
                fw[t] += 1
                t += t & -t
            slot = i - (seen - s)  # its position less the rarer occurrences before it
            seen += 1
            g = slot - last[j] - 1
            last[j] = slot
            mj = M[j]
            if mj == 1:
                uc[j] = wunary(T, uc[j], g)
                continue
            q = np.int64(g * inv[j])
            while q * mj > g:
                q -= 1
            while (q + 1) * mj <= g:
                q += 1
            r = g - q * mj
            uc[j] = wunary(T, uc[j], q)
            cj = c[j]
            if r < cj:
                pc[j] = wput(T, pc[j], r, b[j] - 1)
            else:
                rc = r + cj
                pc[j] = wput(T, pc[j], rc >> 1, b[j] - 1)
                if rc & 1:
                    T[lc[j] >> 6] |= np.uint64(1) << np.uint64(63 - (lc[j] & 63))
                lc[j] += 1
    nbits, _ = table_bits(sym, cnt)
    for j in range(J):
        nbits += (uc[j] - su[j]) + (pc[j] - sp[j]) + (lc[j] - sl[j])
    W = np.zeros(nbits // 64 + 2, np.uint64)
    pos = table_write(W, sym, cnt)
    for j in range(J - 1, -1, -1):
        pos = _wcopy(W, pos, T, su[j], uc[j] - su[j])
    for j in range(J - 1, -1, -1):
        pos = _wcopy(W, pos, T, sp[j], pc[j] - sp[j])
    for j in range(J - 1, -1, -1):
        pos = _wcopy(W, pos, T, sl[j], lc[j] - sl[j])
    return nbits, W


@njit(cache=True)
def raw_write(v, buf, width):
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
