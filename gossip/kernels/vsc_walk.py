"""Compiled VSC supports by a walk over a bitmap of taken positions, symbol by symbol.

Both directions handle the coded symbols in stream order (rarest first, ``j = J-1..0``), so
each of the three sub-streams (unary quotients, remainder prefixes, last bits) is read or
written by one sequential cursor.  A bitmap ``T`` (bit ``t`` of word ``w`` = position
``64 w + t``) marks the positions of the rarer symbols already handled; symbol ``j``'s slots
are the clear bits of ``T`` in order, counted with popcount per 64-bit word:

* encoder: one pass over the symbols sets the occurrence bits of up to ``GROUP`` coded
  symbols in per-symbol bitmaps ``E`` (a pass per group of symbols); each symbol then walks
  its words: slot = free slots in earlier words + popcount of the free bits below it;
* decoder: each gap gives the next slot; the walk advances whole words by popcount and
  picks the bit inside a word with a broadword select; the output is pre-filled with the
  most frequent symbol and the most frequent coded symbol sets no bits.

Work: ``O(J d / 64 + G)`` for ``G`` coded occurrences, so the caller keeps these kernels for
``J <= WALK_MAX_J`` coded symbols (``J d / 64 <= d``).  Every buffer of ``O(d)`` or
``O(payload)`` bytes is passed in by the caller (numpy, so memory tracing sees it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._llvm import clz64, ctz64, popcount64
from .vsc_bits import _MASK56, _get, _peek56, _read_unary, _skip_unary
from .vsc_enc import _mask_any, _mask_words, _wcopy, table_write, wput, wunary

GROUP = 8  # coded symbols per encoder pass over the symbols (E: d / 8 bytes each)
WALK_MAX_J = 64
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_M32 = np.uint64(0xFFFFFFFF)
_M16 = np.uint64(0xFFFF)
_M8 = np.uint64(0xFF)


def _byte_select_table() -> np.ndarray:
    """``_SEL[8 * byte + k]``: index of the ``k``-th set bit of ``byte`` (8 if none)."""
    t = np.full(256 * 8, 8, np.uint8)
    for x in range(256):
        bits = [i for i in range(8) if x >> i & 1]
        for k, i in enumerate(bits):
            t[8 * x + k] = i
    return t


_SEL = _byte_select_table()


@njit(cache=True, inline="always")
def _select(x, k):
    """Index of the ``k``-th (from 0) set bit of ``x`` (``k < popcount(x)``)."""
    pos = np.int64(0)
    c = popcount64(x & _M32)
    if k >= c:
        k -= c
        x >>= np.uint64(32)
        pos += 32
    c = popcount64(x & _M16)
    if k >= c:
        k -= c
        x >>= np.uint64(16)
        pos += 16
    c = popcount64(x & _M8)
    if k >= c:
        k -= c
        x >>= np.uint64(8)
        pos += 8
    return pos + np.int64(_SEL[8 * np.int64(x & _M8) + k])


@njit(cache=True)
def walk_encode(v, words, lut, vmin, vals, ranks, sym, cnt, M, b, c, E, T, W, P, B):
    """The whole VSC payload (``K >= 2``) into ``W`` -> its bit length.  ``W`` gets the
    symbol table and the unary stream; ``P`` and ``B`` (zeroed) collect the remainder
    prefixes and the last bits, appended to ``W`` at the end.  ``E``: ``(min(J, GROUP), nw)``
    and ``T``: ``nw`` zeroed words, ``nw = ceil(d / 64)``."""
    n = v.size
    J = cnt.size - 1
    nw = T.size
    use_lut = lut.size > 0
    full = words.size // 8  # int8 blocks of 64 read as 8 words
    mode = sym[0]
    mw = np.uint64(np.int64(mode) & 255) * np.uint64(0x0101010101010101)
    u = table_write(W, sym, cnt)
    pp = np.int64(0)
    lb = np.int64(0)
    for jhi in range(J - 1, -1, -GROUP):  # a group: coded ranks jhi down to jlo
        jlo = max(jhi - GROUP + 1, 0)
        if jhi < J - 1:
            E[:] = 0
        for i0 in range(0, n, 64):
            blk = i0 >> 6
            if blk < full:
                m = _mask_words(words, 8 * blk, mw)
            else:
                m = _mask_any(v, i0, min(i0 + 64, n), mode)
            while m:
                t = ctz64(m)
                m &= m - _ONE
                x = np.int64(v[i0 + t])
                j = lut[x - vmin] - 1 if use_lut else ranks[np.searchsorted(vals, x)] - 1
                if jlo <= j <= jhi:
                    E[jhi - j, blk] |= _ONE << np.uint64(t)
        for j in range(jhi, jlo - 1, -1):
            e_row = E[jhi - j]
            mj = M[j]
            wb = max(b[j] - 1, 0)
            cj = c[j]
            inv = 1.0 / mj
            fb = np.int64(0)  # free slots in the words before w
            last = np.int64(-1)
            left = cnt[j + 1]
            for w in range(nw):
                if left == 0:
                    break
                tw = T[w]
                e = e_row[w]
                if e:
                    f = ~tw
                    T[w] = tw | e
                    while e:
                        t = ctz64(e)
                        e &= e - _ONE
                        left -= 1
                        slot = fb + popcount64(f & ((_ONE << np.uint64(t)) - _ONE))
                        g = slot - last - 1
                        last = slot
                        if mj == 1:
                            u = wunary(W, u, g)
                            continue
                        q = np.int64(g * inv)
                        while q * mj > g:
                            q -= 1
                        while (q + 1) * mj <= g:
                            q += 1
                        r = g - q * mj
                        u = wunary(W, u, q)
                        has = np.int64(r >= cj)
                        rc = r + cj
                        pp = wput(P, pp, (rc >> 1) if has else r, wb)
                        B[lb >> 6] |= np.uint64(rc & has) << np.uint64(63 - (lb & 63))
                        lb += has
                fb += 64 - popcount64(tw)
    u = _wcopy(W, u, P, 0, pp)
    return _wcopy(W, u, B, 0, lb)


@njit(cache=True, inline="always")
def _load(p, pos):
    """64 payload bits from bit ``pos`` on, MSB first (``p``: see ``vsc_bits._words``)."""
    k = pos >> 6
    off = np.uint64(pos & 63)
    return (p[k] << off) | ((p[k + 1] >> _ONE) >> (np.uint64(63) - off))


@njit(cache=True)
def walk_decode(p, nbits, pos, sym, cnt, M, b, c, L, out, T):
    """Decode the supports (``K >= 2``) into ``out`` -> error code (see ``_ERRORS``).
    ``T``: ``ceil(d / 64)`` zeroed words.  Each sub-stream is read through a 64-bit buffer
    (``*buf``: the bits from ``*pos`` on, ``*nb`` of them valid, refilled below 40)."""
    J = cnt.size - 1
    d = out.size
    nw = T.size
    G = np.int64(0)
    for j in range(J):
        G += cnt[j + 1]
    if G > nbits - pos:
        return 14
    ppos = _skip_unary(p, pos, nbits, G)  # the unary stream ends where the prefixes start
    if ppos < 0:
        return 14
    lpos = ppos
    for j in range(J):
        wb = max(b[j] - 1, 0)
        if wb > 0 and cnt[j + 1] > (nbits - lpos) // wb:
            return 15
        lpos += cnt[j + 1] * wb
    s0 = sym[0]
    for i in range(d):
        out[i] = s0
    if d & 63:  # positions past d count as taken
        T[nw - 1] = _ALL << np.uint64(d & 63)
    uend = ppos
    upos, ubuf, unb = pos, _load(p, pos), 64
    pbuf, pnb = _load(p, ppos), 64
    lbuf, lnb = _load(p, lpos), 64
    for j in range(J - 1, -1, -1):
        mj = M[j]
        wb = max(b[j] - 1, 0)
        ub = np.uint64(wb)
        cj = c[j]
        Lj = L[j]
        qmax = (Lj - 1) // mj
        sj = sym[j + 1]
        w = np.int64(0)
        f = ~T[0]
        pc = popcount64(f)
        acc = np.uint64(0)  # this symbol's bits in word w (T[w] keeps the rarer ones for now)
        fb = np.int64(0)  # free slots in the words before w
        last = np.int64(-1)
        for _ in range(cnt[j + 1]):
            q = clz64(~ubuf)
            if q < unb:
                ubuf = (ubuf << np.uint64(q)) << _ONE
                unb -= q + 1
                upos += q + 1
            else:  # a run past the buffer; the zero lies before uend (counted above)
                q, upos = _read_unary(p, upos, uend)
                unb = 0
            if unb < 40:
                ubuf, unb = _load(p, upos), 64
            r = np.int64(0)
            if wb:
                r = np.int64(pbuf >> (np.uint64(64) - ub))
                pbuf <<= ub
                pnb -= wb
                ppos += wb
                if pnb < 40:
                    pbuf, pnb = _load(p, ppos), 64
            if mj > 1:
                has = np.int64(r >= cj)
                if lpos + has > nbits:
                    return 16
                if has:
                    r = 2 * r + np.int64(lbuf >> np.uint64(63)) - cj
                lbuf <<= np.uint64(has)
                lnb -= has
                lpos += has
                if lnb < 40:
                    lbuf, lnb = _load(p, lpos), 64
            if q < 0 or q > qmax:
                return 18
            g = q * mj + r
            if g >= Lj:
                return 18
            s = last + g + 1
            if s >= Lj:
                return 19
            last = s
            while fb + pc <= s:
                T[w] |= acc
                acc = np.uint64(0)
                fb += pc
                w += 1
                if w >= nw:
                    return 20
                f = ~T[w]
                pc = popcount64(f)
            k = s - fb
            t = k if f == _ALL else _select(f, k)
            out[64 * w + t] = sj
            acc |= _ONE << np.uint64(t)
        if j > 0:
            T[w] |= acc
    if lpos != nbits:
        return 17
    return 0
