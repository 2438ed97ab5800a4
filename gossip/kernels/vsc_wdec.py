"""Compiled VSC support decoder by a walk over a bitmap of taken positions (numba).

The supports come in stream order (rarest symbol first); each of the three sub-streams
(unary quotients, remainder prefixes, last bits) is read by its own cursor.  A bitmap ``T``
(bit ``t`` of word ``w`` = position ``64 w + t``) marks the positions of the rarer symbols
already placed; symbol ``j``'s slots are the clear bits of ``T`` in order.  A symbol is
decoded in chunks of ``CHUNK`` codes, each stage its own small loop (one loop holding all
of them spilled registers and ran 1.7x slower):

1. :func:`_unary`: the quotients, by the set bits of the bit-reversed complement of 64-bit
   windows (a one-cycle dependency from code to code, one mispredict per window);
2. :func:`_rems_fast` for the dense shapes (``M = 2**b``; ``M = 3`` where ``pdep`` is
   fast): the remainders 64 codes at a time by loops with no dependency from code to code,
   then one running sum to slots, range-checked once per chunk (slots increase); else, and
   for the chunk where that check fails (hostile input), :func:`_rems`: the truncated-binary
   remainders code by code, the gaps, the slots ``s`` and the one range check that matters
   (``s < L``; the quotient is clamped first, so no product overflows), naming the first bad
   code;
3. :func:`_scatter`: each slot becomes bit ``s`` of a compacted bitmap ``SB`` over the
   symbol's free slots, branch-free (a register word stored every code).

Then :func:`_expand` walks the words once: word ``w`` has ``popcount(~T[w])`` free slots,
the next that many bits of ``SB`` land on them by one ``pdep`` (:func:`_deposit`), and the
output takes the symbol there by one 64-lane vector blend.  No branch depends on a code, so the
walk costs ``O(d / 64)`` per symbol plus ``O(1)`` per code.  With few coded occurrences
(``Q`` given, :mod:`.vsc_sparse`) the slots go to a branch-free merge with the taken
positions instead of the bitmaps.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from ._llvm import FAST_PDEP, bitrev64, blend64, ctz64, pdep64, popcount64
from .vsc_bits import _skip_unary
from .vsc_sparse import _merge

CHUNK = 256  # codes per stage call (64..1024 time the same)
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
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
def _select_bw(x, k):
    """Index of the ``k``-th (from 0) set bit of ``x`` (``k < popcount(x)``), branch-free."""
    pos = np.int64(0)
    for half in (32, 16, 8):
        c = popcount64(x & ((_ONE << np.uint64(half)) - _ONE))
        up = np.int64(k >= c)
        k -= c * up
        x >>= np.uint64(half * up)
        pos += half * up
    return pos + np.int64(_SEL[8 * np.int64(x & _M8) + k])


@njit(cache=True, inline="always")
def _deposit_sw(x, f):
    """``pdep(x, f)`` without BMI2: the low ``popcount(f)`` bits of ``x`` onto the set bits
    of ``f``, in order, one select per set bit of ``x``."""
    n = popcount64(f)
    if n < 64:
        x &= (_ONE << np.uint64(n)) - _ONE
    a = np.uint64(0)
    while x:
        a |= _ONE << np.uint64(_select_bw(f, ctz64(x)))
        x &= x - _ONE
    return a


_deposit = pdep64 if FAST_PDEP else _deposit_sw


@njit(cache=True, inline="always")
def _load(p, pos):
    """64 payload bits from bit ``pos`` on, MSB first (``p``: see ``vsc_bits._words``)."""
    k = np.uint64(pos) >> np.uint64(6)
    off = np.uint64(pos & 63)
    return (p[k] << off) | ((p[k + _ONE] >> _ONE) >> (np.uint64(63) - off))


@njit(cache=True, inline="always")
def _bit(p, pos, nbits):
    """The payload bit at ``min(pos, nbits)`` (0 or 1)."""
    lp = np.uint64(min(pos, nbits))
    return np.int64((p[lp >> np.uint64(6)] >> (np.uint64(63) - (lp & np.uint64(63)))) & _ONE)


@njit(cache=True)
def _unary(p, upos, qb, cn):
    """``cn`` unary codes from bit ``upos`` into ``qb`` -> the position after them.  The
    caller counted the codes' zeros before the stream's end (``_skip_unary``)."""
    i = 0
    carry = np.int64(0)  # ones of the current code in earlier windows
    while True:
        z = bitrev64(~_load(p, upos))  # bit t: the stream's bit upos + t is a zero
        base = np.int64(-1)
        while z:
            t = ctz64(z)
            z &= z - _ONE
            qb[i] = carry + t - base - 1
            carry = 0
            base = t
            i += 1
            if i == cn:
                return upos + base + 1
        carry += 63 - base
        upos += 64


@njit(cache=True)
def _rems(p, ppos, lpos, nbits, qb, cn, wb, mj, cj, qmax, Lj, last):
    """Quotients ``qb`` -> slots (in place), with the remainders read at ``ppos`` (``wb``
    bits each) and ``lpos`` (a last bit where ``r >= c``) -> (ppos, lpos, last slot, error
    code).  A last-bit cursor past ``nbits`` reads the last bit again; the caller refuses it."""
    ub = np.uint64(64 - wb)
    q1 = qmax + 1
    for i in range(cn):
        q = min(qb[i], q1)  # q > qmax gives s >= Lj below, and no overflow
        r = np.int64(0)
        if wb:
            r = np.int64(_load(p, ppos) >> ub)
            ppos += wb
        if mj > 1:
            has = np.int64(r >= cj)
            r += has * (r + _bit(p, lpos, nbits) - cj)
            lpos += has
        s = last + q * mj + r + 1
        if s >= Lj:
            return ppos, lpos, last, 18 if q > qmax or s - last - 1 >= Lj else 19
        qb[i] = s
        last = s
    return ppos, lpos, last, 0


@njit(cache=True)
def _rems_fast(p, ppos, lpos, nbits, qb, rb, cn, wb, mj, cj, qmax, Lj, last):
    """:func:`_rems` for the two shapes of dense symbols, 64 codes at a time: ``M = 2**b``
    (every code has ``b - 1`` prefix bits and a last bit) and, where ``pdep`` is fast,
    ``M = 3`` (a one-bit prefix, and a last bit where it is 1, put onto those codes by one
    ``pdep``).  The remainders go into ``rb`` by loops with no dependency from code to code,
    then one running sum makes them slots (in ``rb``; ``qb`` is left as it was) ->
    (ppos, lpos, last slot, ok).  Slots increase, so the range check is one compare per
    chunk; ``ok`` False (hostile input only) sends the caller to :func:`_rems` for the
    chunk, which names the first bad code."""
    ub = np.uint64(64 - wb)
    if cj == 0:
        for i0 in range(0, cn, 64):
            lw = _load(p, min(lpos, nbits))
            m = min(64, cn - i0)
            r = rb[i0:i0 + m]
            for t in range(m):
                r[t] = np.int64((lw >> np.uint64(63 - t)) & _ONE)
            lpos += m
        if wb:
            for t in range(cn):
                rb[t] |= np.int64(_load(p, ppos + t * wb) >> ub) << 1
            ppos += cn * wb
    else:  # M = 3: wb = 1, c = 1
        for i0 in range(0, cn, 64):
            m = min(64, cn - i0)
            has = bitrev64(_load(p, ppos))
            if m < 64:
                has &= (_ONE << np.uint64(m)) - _ONE
            lb = _deposit(bitrev64(_load(p, min(lpos, nbits))), has)
            r = rb[i0:i0 + m]
            for t in range(m):
                r[t] = np.int64((has >> np.uint64(t)) & _ONE) * (
                    1 + np.int64((lb >> np.uint64(t)) & _ONE))
            ppos += m
            lpos += popcount64(has)
    q1 = qmax + 1
    s = last
    for t in range(cn):
        s += min(qb[t], q1) * mj + rb[t] + 1
        rb[t] = s
    return ppos, lpos, s, s < Lj


@njit(cache=True)
def _scatter(qb, cn, SB, cur, acc):
    """Slots ``qb[:cn]`` (increasing) -> their bits in ``SB``, branch-free: ``acc`` holds
    word ``cur`` and is stored every code -> (cur, acc)."""
    for i in range(cn):
        s = qb[i]
        ws = s >> 6
        keep = np.uint64(ws == cur)
        SB[cur] = acc
        acc = (acc & (np.uint64(0) - keep)) | (_ONE << np.uint64(s & 63))
        cur = ws
    return cur, acc


@njit(cache=True)
def _expand(SB, T, out, sj, mark, lastslot):
    """The set bits of ``SB`` (free-slot indices, at most ``lastslot``) -> ``sj`` at their
    positions in ``out`` (a 64-lane vector blend per full block, :func:`.blend64`); ``T``
    gets them too when ``mark``."""
    nw = T.size
    full = out.size // 64
    fb = np.int64(0)  # free slots in the words before w
    for w in range(nw):
        if fb > lastslot:
            break
        tw = T[w]
        f = ~tw
        k = np.uint64(fb) >> np.uint64(6)
        o = np.uint64(fb & 63)
        a = _deposit((SB[k] >> o) | ((SB[k + _ONE] << _ONE) << (np.uint64(63) - o)), f)
        fb += popcount64(f)
        if mark:
            T[w] = tw | a
        if w < full:
            blend64(out, 64 * w, a, sj)
        else:
            while a:
                out[64 * w + ctz64(a)] = sj
                a &= a - _ONE


@njit(cache=True)
def walk_decode(p, nbits, pos, sym, cnt, M, b, c, L, out, T, Q):
    """Decode the supports (``K >= 2``) into ``out`` -> error code (see ``_ERRORS``).
    ``T``: ``2 ceil(d / 64) + 2`` zeroed words, the taken
    bitmap then ``SB`` (one, unused, for the sparse walk).  ``Q``: :func:`sparse_scratch`
    with 4 parts (not empty: the sparse walk, a branch-free merge of each symbol's slots
    with the taken positions, :func:`.vsc_sparse._merge`)."""
    J = cnt.size - 1
    d = out.size
    nw = (T.size - 2) // 2
    SB = T[nw:]
    T = T[:nw]
    G = np.int64(0)
    for j in range(J):
        G += cnt[j + 1]
    if G > nbits - pos:
        return 14
    sparse = Q.size > 0
    if sparse and Q.size != 4 * G:
        return 20
    ta, tb, slots, posn = Q[:G], Q[G:2 * G], Q[2 * G:3 * G], Q[3 * G:]
    ntp = np.int64(0)
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
    if d & 63 and not sparse:  # positions past d count as taken
        T[nw - 1] = _ALL << np.uint64(d & 63)
    upos = pos
    qb = np.empty(CHUNK, np.int64)
    rb = np.empty(CHUNK, np.int64)
    for j in range(J - 1, -1, -1):
        mj = M[j]
        Lj = L[j]
        kj = cnt[j + 1]
        cj = c[j]
        wb = max(b[j] - 1, 0)
        fast = mj > 1 and (cj == 0 or (mj == 3 and FAST_PDEP))
        last = np.int64(-1)
        if not sparse:
            SB[:min((Lj + 63) // 64 + 2, SB.size)] = 0
        cur = np.int64(0)
        acc = np.uint64(0)
        for c0 in range(0, kj, CHUNK):
            cn = min(CHUNK, kj - c0)
            upos = _unary(p, upos, qb, cn)
            ok = False
            if fast:
                pp, lp, ls, ok = _rems_fast(p, ppos, lpos, nbits, qb, rb, cn, wb, mj, cj,
                                            (Lj - 1) // mj, Lj, last)
            if ok:
                ppos, lpos, last = pp, lp, ls
                sb = rb
            else:
                ppos, lpos, last, err = _rems(p, ppos, lpos, nbits, qb, cn, wb, mj, cj,
                                              (Lj - 1) // mj, Lj, last)
                if err:
                    return err
                sb = qb
            if sparse:
                slots[c0:c0 + cn] = sb[:cn]
            else:
                cur, acc = _scatter(sb, cn, SB, cur, acc)
        if lpos > nbits:
            return 16
        sj = sym[j + 1]
        if sparse:  # positions after the symbol's last slot: _merge
            ntp = _merge(ta, ntp, slots, kj, tb, posn)
            ta, tb = tb, ta
            for i in range(kj):
                at = posn[i]
                if at >= d:  # cannot happen (s < L[j] = d - ntp); a cheap guard
                    return 20
                out[at] = sj
        else:
            SB[cur] = acc
            _expand(SB, T, out, sj, j > 0, last)
    if lpos != nbits:
        return 17
    return 0
