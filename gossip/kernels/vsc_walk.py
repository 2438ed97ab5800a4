"""Compiled VSC support encoder by a walk over a bitmap of taken positions, symbol by symbol
(the decoder, built the same way, is :mod:`.vsc_wdec`).

Both directions handle the coded symbols in stream order (rarest first, ``j = J-1..0``); the
encoder writes each of the three sub-streams (unary quotients, remainder prefixes, last bits)
by one sequential cursor through a 64-bit register buffer.  A bitmap ``T`` (bit ``t``
of word ``w`` = position ``64 w + t``) marks the positions of the rarer symbols already
handled; symbol ``j``'s slots are the clear bits of ``T`` in order, counted by popcount:

* encoder: a pass over the symbols sets the occurrence bits of up to ``GROUP`` coded symbols
  in bitmaps ``E`` (in a block of 64 entries with over half as many coded entries as the
  group has symbols, a vector compare per symbol, :func:`.eqmask64`; else a scatter per
  coded entry); int8 symbols within ``GROUP + 1`` values holding 0 (quantizer output) get
  their histogram and bitmaps in one pass instead (:func:`.vsc_plan.rows8`); each symbol
  then walks the words: slot = free slots in earlier words + popcount of the free bits
  below it, the gaps split into quotient and remainder by a vectorised loop of their own,
  and each of the three sub-streams written by its own loop (last bits and one-bit prefixes
  64 codes at a time, by one vector mask);
* decoder (:mod:`.vsc_wdec`): the slots go into a compacted bitmap over the free slots,
  which one ``pdep`` per word of ``T`` puts onto the free positions.

Work: ``O(J d / 64 + G)`` for ``G`` coded occurrences, so the caller keeps these kernels for
``J <= WALK_MAX_J`` coded symbols (``J d / 64 <= d``).  Every buffer of ``O(d)`` or
``O(payload)`` bytes is passed in by the caller (numpy, so memory tracing sees it).
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from ._llvm import (FAST_PDEP, bitrev64, ctz64, eqmask64, gemask64, lsbmask64, pext64,
                    popcount64)
from .vsc_enc import _mask_any, _wcopy, table_write
from .vsc_sparse import _sparse_slots

GROUP = 8  # coded symbols per encoder pass over the symbols (E: d / 8 bytes each)
WALK_MAX_J = 64
CHUNK = 256  # coded entries per chunk of the encoder: one loop per stage
_ONE = np.uint64(1)


@njit(cache=True, inline="always")
def _put(W, k, acc, na, val, width):
    """Append ``val`` (``< 2**width``, ``width <= 63``) to a buffered writer: ``acc`` holds
    ``na < 64`` pending bits, flushed to ``W[k]`` when 64 are ready -> (k, acc, na)."""
    free = 64 - na
    if width < free:
        return k, (acc << np.uint64(width)) | np.uint64(val), na + width
    over = width - free
    W[k] = (acc << np.uint64(free)) | (np.uint64(val) >> np.uint64(over))
    return k + 1, np.uint64(val) & ((_ONE << np.uint64(over)) - _ONE), over


@njit(cache=True, inline="always")
def _put_unary(W, k, acc, na, q):
    while q > 62:
        k, acc, na = _put(W, k, acc, na, (np.int64(1) << 62) - 1, 62)
        q -= 62
    return _put(W, k, acc, na, ((np.int64(1) << q) - 1) << 1, q + 1)


@njit(cache=True, inline="always")
def _flush(W, k, acc, na):
    if na:
        W[k] |= acc << np.uint64(64 - na)
    return 64 * k + na


@njit(cache=True, inline="always")
def _extract_sw(x, m):
    """``pext(x, m)`` without BMI2: the bits of ``x`` at the set bits of ``m``, packed low."""
    a = np.uint64(0)
    k = np.uint64(0)
    while m:
        a |= ((x >> np.uint64(ctz64(m))) & _ONE) << k
        k += _ONE
        m &= m - _ONE
    return a


_extract = pext64 if FAST_PDEP else _extract_sw  # pext must not reach LLVM without BMI2


@njit(cache=True)
def scratch_words(n, cnt, M, b, pre):
    """Sizes in words of the encoder's buffers for ``n`` symbols: the occurrence bitmaps
    ``E``, the taken bitmap ``T``, the payload ``W`` (table, unary stream and the rest
    appended), the prefixes ``P`` and the last bits ``B`` -> (E, T, W, P, B); no ``E`` when
    ``pre`` (the caller built the bitmaps: :func:`.vsc_plan.rows8`)."""
    J = cnt.size - 1
    nw = (n + 63) // 64
    L = n
    ub = pb = lb = np.int64(0)
    for j in range(J - 1, -1, -1):
        nj = cnt[j + 1]
        ub += nj + (L - nj) // M[j]  # n_k codes, the quotients add up to <= (L_k - n_k) / M_k
        pb += nj * max(b[j] - 1, 0)
        lb += nj
        L -= nj
    return (0 if pre else min(J, GROUP)) * nw, nw, (256 * (J + 1) + ub + pb + lb) // 64 + 4, pb // 64 + 2, lb // 64 + 2


@njit(cache=True, inline="always")
def _qr(g, cj, sh, inv, mj):
    """The Golomb quotient ``g // M`` (``M = 2**b`` when ``c == 0``: a shift)."""
    if cj == 0:
        return g >> sh
    q = np.int64(g * inv)  # within 1 of g // mj for g < 2**50
    q -= np.int64(q * mj > g)
    return q + np.int64((q + 1) * mj <= g)


@njit(cache=True)
def _gaps_walk(T, e_row, gb, qb, cn, fb, w, e, f, tw, last, cj, sh, inv, mj):
    """The next ``cn`` occurrences of a symbol by the walk over its bitmap ``e_row`` and the
    taken bitmap ``T`` (marked as it goes) -> quotients ``qb`` and remainders ``gb`` of
    their gaps, and the walk's state: free slots before word ``w``, the occurrences ``e``
    left in it, its free bits ``f`` and taken bits ``tw``, the last slot."""
    for i in range(cn):
        while e == 0:
            if w >= 0:
                fb += 64 - popcount64(tw)
            w += 1
            tw = T[w]
            e = e_row[w]
            f = ~tw
            T[w] = tw | e
        t = ctz64(e)
        e &= e - _ONE
        slot = fb + popcount64(f & ((_ONE << np.uint64(t)) - _ONE))
        gb[i] = slot - last - 1
        last = slot
    _qr_all(gb, qb, cn, cj, sh, inv, mj)
    return fb, w, e, f, tw, last


@njit(cache=True)
def _qr_all(gb, qb, cn, cj, sh, inv, mj):
    """Gaps ``gb[:cn]`` -> their quotients ``qb`` and remainders (in ``gb``): a loop of its
    own, which vectorises (inside the walk's loop it did not)."""
    for i in range(cn):
        g = gb[i]
        q = _qr(g, cj, sh, inv, mj)
        qb[i] = q
        gb[i] = g - q * mj


@njit(cache=True)
def _gaps_slots(slots, gb, qb, cn, last, cj, sh, inv, mj):
    """:func:`_gaps_walk` for slots given (the sparse walk) -> the last slot."""
    for i in range(cn):
        slot = slots[i]
        gb[i] = slot - last - 1
        last = slot
    _qr_all(gb, qb, cn, cj, sh, inv, mj)
    return last


@njit(cache=True)
def _write_unary(W, uk, uacc, una, qb, cn):
    """The unary codes of ``qb[:cn]`` -> the writer's state.  The pending bits are kept
    complemented (a code is ``q`` zeros, then a one), so a code that fits in the register
    costs one shift and one OR."""
    c = ~uacc & ((_ONE << np.uint64(una)) - _ONE)
    for i in range(cn):
        q = qb[i]
        n2 = una + q + 1
        if n2 < 64:
            c = (c << np.uint64(q + 1)) | _ONE
            una = n2
        else:
            uk, uacc, una = _put_unary(W, uk, ~c & ((_ONE << np.uint64(una)) - _ONE), una, q)
            c = ~uacc & ((_ONE << np.uint64(una)) - _ONE)
    return uk, ~c & ((_ONE << np.uint64(una)) - _ONE), una


@njit(cache=True, inline="always")
def _put_word(B, bk, bacc, bna, word):
    """Append 64 bits (``word``, MSB first) to the register writer of :func:`_write_last`."""
    if bna == 0:
        B[bk] = word
        return bk + 1, bacc
    B[bk] = (bacc << np.uint64(64 - bna)) | (word >> np.uint64(bna))
    return bk + 1, word


@njit(cache=True)
def _write_prefixes(P, pk, pacc, pna, gb, cn, cj, wb, pv):
    """Truncated binary: ``r < c`` in ``b - 1`` bits, else the first ``b - 1`` of ``r + c``.
    One-bit prefixes (``b = 2``) go 64 at a time, by one vector mask of the prefixes put in
    ``pv`` by a vectorised loop."""
    i = 0
    if wb == 1:
        for t in range(cn):
            r = gb[t]
            pv[t] = r + np.int64(r >= cj) * (((r + cj) >> 1) - r)
        while i + 64 <= cn:
            pk, pacc = _put_word(P, pk, pacc, pna, bitrev64(lsbmask64(pv, i)))
            i += 64
    for i in range(i, cn):
        r = gb[i]
        has = np.int64(r >= cj)
        pk, pacc, pna = _put(P, pk, pacc, pna, r + has * (((r + cj) >> 1) - r), wb)
    return pk, pacc, pna


@njit(cache=True)
def _write_last(B, bk, bacc, bna, gb, cn, cj):
    """The last bit of ``r + c`` where ``r >= c`` (every code when ``c == 0``); older bits
    shift out of the register, so a full word is stored without clearing it.  64 codes at a
    time: their last bits by one vector mask (and, when ``c > 0``, compacted by ``pext``)."""
    i = 0
    if cj == 0:
        while i + 64 <= cn:
            bk, bacc = _put_word(B, bk, bacc, bna, bitrev64(lsbmask64(gb, i)))
            i += 64
    elif FAST_PDEP:
        flip = np.uint64(0) - np.uint64(cj & 1)
        while i + 64 <= cn:
            has = gemask64(gb, i, cj)
            n = popcount64(has)
            if n == 64:
                bk, bacc = _put_word(B, bk, bacc, bna, bitrev64(lsbmask64(gb, i) ^ flip))
            elif n:
                val = bitrev64(_extract(lsbmask64(gb, i) ^ flip, has)) >> np.uint64(64 - n)
                bk, bacc, bna = _put(B, bk, bacc, bna, val, n)
            i += 64
    for i in range(i, cn):
        r = gb[i]
        has = np.uint64(r >= cj)
        bacc = (bacc << has) | (np.uint64(r + cj) & has)
        bna += np.int64(has)
        if bna == 64:
            B[bk] = bacc
            bk += 1
            bna = 0
    return bk, bacc & ((_ONE << np.uint64(bna)) - _ONE), bna


@njit(cache=True)
def walk_encode(v, lut, vmin, vals, ranks, sym, cnt, M, b, c, S, R, Q, pos):
    """The whole VSC payload (``K >= 2``) -> (its bit length, its words: a view of ``S``).
    ``S``: zeroed scratch of the sizes :func:`scratch_words` gives, in that order.  The
    payload ``W`` gets the symbol table and the unary stream; ``P`` and ``B`` collect the
    remainder prefixes and the last bits, appended to ``W`` at the end.  ``R`` (when it has
    rows): the value bitmaps of :func:`.vsc_plan.rows8` (``sym[0] == 0``; value ``x`` in
    row ``x - vmin - (x > 0)``).  ``Q``: empty, or (the sparse walk) one int64 per coded
    occurrence, with ``pos`` holding every coded position (:func:`.vsc_plan.rows8`): every
    symbol's slots then come from one pass over those positions
    (:func:`.vsc_sparse._sparse_slots`) instead of the walk over every word of ``T``."""
    n = v.size
    sparse = Q.size > 0
    J = cnt.size - 1
    pre = R.shape[0] > 0
    se, nw, sw, sp, sb = scratch_words(n, cnt, M, b, pre)
    E = S[:se].reshape((se // nw, nw))
    T = S[se:se + nw]
    W = S[se + nw:se + nw + sw]
    P = S[se + nw + sw:se + nw + sw + sp]
    B = S[se + nw + sw + sp:se + nw + sw + sp + sb]
    use_lut = lut.size > 0
    mode = sym[0]
    u = table_write(W, sym, cnt)
    uk, una = u >> 6, u & 63  # three buffered writers: word, pending bits, their count
    uacc = W[uk] >> np.uint64(64 - una) if una else np.uint64(0)
    pk, pacc, pna = 0, np.uint64(0), 0
    bk, bacc, bna = 0, np.uint64(0), 0
    off = _sparse_slots(v, lut, vmin, vals, ranks, cnt, pos, Q) if sparse else Q
    gb = np.empty(CHUNK, np.int64)  # a chunk's remainders
    qb = np.empty(CHUNK, np.int64)  # its quotients
    pv = np.empty(CHUNK, np.int64)  # its one-bit prefixes
    for jhi in range(J - 1, -1, -GROUP):  # a group: coded ranks jhi down to jlo
        jlo = max(jhi - GROUP + 1, 0)
        if jhi < J - 1:
            E[:] = 0
        gs = sym[jlo + 1:jhi + 2][::-1].copy()  # the group's symbols, E's rows
        for i0 in range(0, 0 if pre or sparse else n, 64):
            blk = i0 >> 6
            if i0 + 64 <= n:
                m = ~eqmask64(v, i0, mode)
                if m == 0:  # 64 first symbols
                    continue
                if popcount64(m) > gs.size // 2:  # dense: a vector compare per symbol
                    for r in range(gs.size):
                        E[r, blk] = eqmask64(v, i0, gs[r])
                    continue
            else:
                m = _mask_any(v, i0, n, mode)
            while m:
                t = ctz64(m)
                m &= m - _ONE
                x = np.int64(v[i0 + t])
                j = lut[x - vmin] - 1 if use_lut else ranks[np.searchsorted(vals, x)] - 1
                if jlo <= j <= jhi:
                    E[jhi - j, blk] |= _ONE << np.uint64(t)
        for j in range(jhi, jlo - 1, -1):
            x = np.int64(sym[j + 1])
            e_row = R[x - vmin - np.int64(x > 0)] if pre else E[jhi - j]
            mj = M[j]
            wb = max(b[j] - 1, 0)
            cj = c[j]
            inv = 1.0 / mj
            sh = b[j]
            k = cnt[j + 1]
            slots = Q[off[j]:off[j] + k] if sparse else Q  # every slot at once (sparse)
            fb = np.int64(0)  # free slots in the words before w (the walk)
            w = np.int64(-1)
            e = f = tw = np.uint64(0)
            last = np.int64(-1)
            for c0 in range(0, k, CHUNK):  # CHUNK codes, each stage its own small loop
                cn = min(CHUNK, k - c0)  # (one loop for all of them: 1.14x slower)
                if sparse:
                    last = _gaps_slots(slots[c0:], gb, qb, cn, last, cj, sh, inv, mj)
                else:
                    fb, w, e, f, tw, last = _gaps_walk(T, e_row, gb, qb, cn, fb, w, e, f, tw,
                                                       last, cj, sh, inv, mj)
                uk, uacc, una = _write_unary(W, uk, uacc, una, qb, cn)
                if mj == 1:  # M = 1: the unary code is the whole codeword
                    continue
                if wb:
                    pk, pacc, pna = _write_prefixes(P, pk, pacc, pna, gb, cn, cj, wb, pv)
                bk, bacc, bna = _write_last(B, bk, bacc, bna, gb, cn, cj)
    u = _flush(W, uk, uacc, una)
    u = _wcopy(W, u, P, 0, _flush(P, pk, pacc, pna))
    return _wcopy(W, u, B, 0, _flush(B, bk, bacc, bna)), W
